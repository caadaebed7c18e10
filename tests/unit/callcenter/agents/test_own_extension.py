"""The desk signs a user in only on the extension assigned to them."""

from __future__ import annotations

import pytest

from callcenter.agents.errors import ExtensionNotYours
from callcenter.agents.state import own_extension


def test_the_assigned_extension_is_used_when_none_or_the_same_is_asked() -> None:
    assert own_extension(None, "1001") == "1001"
    assert own_extension("", "1001") == "1001"
    assert own_extension(" 1001 ", "1001") == "1001"


@pytest.mark.parametrize(("requested", "assigned"), [("1002", "1001"), ("1001", None), (None, "")])
def test_any_other_is_403_naming_the_field(requested: str | None, assigned: str | None) -> None:
    with pytest.raises(ExtensionNotYours) as refused:
        own_extension(requested, assigned)
    assert (refused.value.field, refused.value.http_status) == ("extension", 403)
