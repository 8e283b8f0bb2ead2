"""The domain's own rules, with no I/O: the list filter, read the one way both doors read it."""

from __future__ import annotations

import pytest

from app.domain.accounts import AccountFilter, AccountStatus, AccountType
from app.domain.errors import UnknownFilterValues


def test_a_filter_is_the_union_of_every_form_of_each_parameter() -> None:
    asked = AccountFilter.parse({"type": ["credit,loan", "loan"], "status": ["open"]})
    assert asked == AccountFilter(
        types=frozenset({AccountType.CREDIT, AccountType.LOAN}),
        statuses=frozenset({AccountStatus.OPEN}),
    )
    assert AccountFilter.parse({}) == AccountFilter()
    assert asked.key() == AccountFilter.parse({"type": ["loan,credit"], "status": ["open"]}).key()


@pytest.mark.parametrize(
    ("asked", "name", "unknown"),
    [
        ({"type": ["credit,mortgage"]}, "type", ("mortgage",)),
        ({"subtype": ["roth_ira", ""]}, "subtype", ("roth_ira", "")),
        ({"status": ["gone"], "type": ["nope"]}, "type", ("nope",)),
    ],
)
def test_unknown_values_are_refused_by_name_with_the_allowed_ones(
    asked: dict[str, list[str]], name: str, unknown: tuple[str, ...]
) -> None:
    with pytest.raises(UnknownFilterValues) as refused:
        AccountFilter.parse(asked)
    assert (refused.value.name, refused.value.unknown) == (name, unknown)
    assert "credit" in refused.value.allowed or name != "type"
