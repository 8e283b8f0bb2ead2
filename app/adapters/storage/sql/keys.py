"""Idempotency keys and webhook deliveries in the SQL store: what was answered, and acted on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    delete,
    exc,
    insert,
    select,
    update,
)

from app.adapters.storage.sql.base import DIALECT_INSERTS, SqlBase
from app.adapters.storage.tables import (
    idempotency_keys,
    webhook_deliveries,
)
from app.services.repositories import (
    KeyClaim,
    KeyState,
    RecordedAnswer,
)


class SqlKeys(SqlBase):
    def first_delivery(self, key: str, now: datetime, keep_until: datetime) -> bool:
        with self._transaction() as connection:
            connection.execute(
                delete(webhook_deliveries).where(webhook_deliveries.c.expires_at <= now)
            )
        # The primary key decides between racing callers: one insert wins, the rest fail.
        try:
            with self._transaction() as connection:
                connection.execute(insert(webhook_deliveries).values(id=key, expires_at=keep_until))
        except exc.IntegrityError:
            return False
        return True

    def claim_key(
        self,
        owner: str,
        key: str,
        fingerprint: str,
        holder: str,
        now: datetime,
        lease_until: datetime,
        expires_at: datetime,
    ) -> KeyClaim:
        this_key = [idempotency_keys.c.owner == owner, idempotency_keys.c.key == key]
        insert_ = DIALECT_INSERTS[self._engine.dialect.name]
        with self._transaction() as connection:
            connection.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.owner == owner, idempotency_keys.c.expires_at <= now
                )
            )
            # The primary key decides between racing callers: one insert wins.
            claimed = connection.execute(
                insert_(idempotency_keys)
                .values(
                    owner=owner,
                    key=key,
                    fingerprint=fingerprint,
                    holder=holder,
                    status=KeyState.IN_PROGRESS.value,
                    lease_until=lease_until,
                    expires_at=expires_at,
                )
                .on_conflict_do_nothing()
                .returning(idempotency_keys.c.key)
            ).first()
            if claimed is not None:
                return KeyClaim(KeyState.NEW)
            # A request that died held it: its lease is over, so the next one takes it.
            taken_over = connection.execute(
                update(idempotency_keys)
                .where(
                    *this_key,
                    idempotency_keys.c.fingerprint == fingerprint,
                    idempotency_keys.c.status == KeyState.IN_PROGRESS.value,
                    idempotency_keys.c.lease_until <= now,
                )
                .values(lease_until=lease_until, holder=holder)
            ).rowcount
            if taken_over:
                return KeyClaim(KeyState.NEW)
            row = connection.execute(select(idempotency_keys).where(*this_key)).one()
        if row.fingerprint != fingerprint:
            return KeyClaim(KeyState.MISMATCH)
        if row.status == KeyState.IN_PROGRESS.value:
            return KeyClaim(KeyState.IN_PROGRESS)
        headers = tuple((str(name), str(value)) for name, value in row.answer_headers or [])
        return KeyClaim(
            KeyState.DONE, RecordedAnswer(row.answer_status, bytes(row.answer_body), headers)
        )

    def complete_key(self, owner: str, key: str, holder: str, answer: RecordedAnswer) -> bool:
        with self._transaction() as connection:
            completed = connection.execute(
                update(idempotency_keys)
                .where(
                    idempotency_keys.c.owner == owner,
                    idempotency_keys.c.key == key,
                    idempotency_keys.c.holder == holder,
                    idempotency_keys.c.status == KeyState.IN_PROGRESS.value,
                )
                .values(
                    status=KeyState.DONE.value,
                    answer_status=answer.status,
                    answer_body=answer.body,
                    answer_headers=[list(header) for header in answer.headers],
                    lease_until=None,
                )
            ).rowcount
        return bool(completed)

    def release_key(self, owner: str, key: str, holder: str) -> None:
        with self._transaction() as connection:
            connection.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.owner == owner,
                    idempotency_keys.c.key == key,
                    idempotency_keys.c.holder == holder,
                )
            )
