"""Chapter 4: sign-in and rate limits, counted in Redis."""

from __future__ import annotations

import secrets
import time

import httpx

from app.adapters.tokens import mint_token
from bench.walkthrough.asking import answer
from bench.walkthrough.outcome import expect, say
from bench.walkthrough.walk import LIST, Walk


def gateway(walk: Walk) -> None:
    say("4. Sign-in and rate limits: ACCOUNTS_AUTH=jwt, limits counted in Redis")
    url = walk.postgres()
    cached = walk.cached()
    open_env = {"ACCOUNTS_DATABASE_URL": url, **cached}
    service = walk.service(open_env)
    walk.load("before, open: user123's list", f"{service.url}{LIST}")
    service.retire()
    secret = secrets.token_hex(32)
    tokens = walk.scratch / "tokens.txt"
    # Each request as if from another client: a token of a thousand, a random X-Forwarded-For.
    # (tokens minted in one second are the same token, unless their lifetimes differ)
    tokens.write_text(
        "\n".join(mint_token("user123", secret, expires_in=3600 + n) for n in range(1000))
    )
    signed_in = {
        **open_env,
        "ACCOUNTS_AUTH": "jwt",
        "ACCOUNTS_JWT_SECRET": secret,
        "ACCOUNTS_RATE_LIMIT_PER_ADDRESS": "300 per second",
        "ACCOUNTS_RATE_LIMIT_PER_TOKEN": "50 per second",
        "ACCOUNTS_TRUSTED_PROXIES": "1",
    }
    service = walk.service(signed_in)
    walk.load(
        "after, a token on every request and both limits counted: user123's list",
        f"{service.url}{LIST}",
        "random_users.lua",
        {"USER_ID": "user123", "TOKENS": str(tokens)},
    )
    bearer = {"Authorization": f"Bearer {mint_token('user123', secret)}"}
    other = {"Authorization": f"Bearer {mint_token('user456', secret)}"}
    expired = {"Authorization": f"Bearer {mint_token('user123', secret, expires_in=-60)}"}
    for label, headers, status in (
        ("no token", {}, 401),
        ("an expired token", expired, 401),
        ("user456's token", other, 403),
        ("user123's token", bearer, 200),
    ):
        asked = httpx.get(f"{service.url}{LIST}", headers=headers)
        say(f"  user123's list with {label}: {answer(asked)}")
        expect(asked.status_code == status, f"{label}: {status}")
    with httpx.Client(headers=bearer) as client:
        burst = [client.get(f"{service.url}{LIST}") for _ in range(120)]
    limited = [response for response in burst if response.status_code == 429]
    say(
        f"  120 requests at once with one token: {len(burst) - len(limited)} answered, "
        f"{len(limited)} refused" + (f" ({answer(limited[0])})" if limited else "")
    )
    expect(bool(limited), "the per-token limit refuses a burst")
    service.retire()
    proxied, redis = walk.cut_off("Redis", cached["ACCOUNTS_REDIS_URL"])
    service = walk.service({**signed_in, "ACCOUNTS_REDIS_URL": proxied})
    redis.stop()
    time.sleep(1.1)  # the one-second windows the limits count in
    asked = httpx.get(f"{service.url}{LIST}", headers=bearer)
    say(
        f"  Redis cut off: a signed-in read answers {answer(asked)} "
        "(the limits counted in each process meanwhile)"
    )
    expect(asked.status_code == 200, "reads go on without the limits' Redis")
