"""The lookup a diagnosis card offers, by what the paste named and what Azure had."""

from __future__ import annotations

import json

from bot.ids import LOOKUP_NAMED, LOOKUP_OPEN, LOOKUP_PICK
from bot.views.egress import lookup_blocks
from services.domain.egress import ResourceKind
from services.domain.failure import PastedResource

SUB = "00000000-0000-0000-0000-000000000001"
AKS = ResourceKind.AKS_CLUSTER


def _id(group: str, name: str) -> str:
    return (
        f"/subscriptions/{SUB}/resourceGroups/{group}/providers/"
        f"Microsoft.ContainerService/managedClusters/{name}"
    )


def _shown(**kwargs: object) -> tuple[str, list[str]]:
    blocks = lookup_blocks(sealed="sealed", kind=AKS, **kwargs)  # type: ignore[arg-type]
    dumped = [b.to_dict() for b in blocks]
    actions = [e["action_id"] for b in dumped for e in b.get("elements", []) if "action_id" in e]
    return json.dumps(dumped), actions


def test_the_one_resource_the_paste_named_is_one_click_away() -> None:
    node = PastedResource(kind=AKS, node="aks-nodepool1-12345678-vmss000000")
    text, actions = _shown(candidates=[_id("rg-aks", "aks-prod")], pasted=node, named=True)
    assert actions == [LOOKUP_NAMED, LOOKUP_OPEN]
    assert "`aks-prod` in `rg-aks`" in text
    assert "Look up aks-prod's egress" in text


def test_several_that_fit_are_listed_with_what_the_paste_said() -> None:
    node = PastedResource(kind=AKS, node="aks-nodepool1-12345678-vmss000000")
    ids = [_id("rg-aks", "aks-prod"), _id("rg-aks", "aks-test")]
    text, actions = _shown(candidates=ids, pasted=node, named=True)
    assert actions == [LOOKUP_PICK, LOOKUP_OPEN]
    assert "node aks-nodepool1-12345678-vmss000000; 2 resources fit" in text


def test_a_named_resource_not_found_says_so_above_the_kinds_list() -> None:
    gone = PastedResource(kind=AKS, name="aks-gone", resource_group="rg-aks")
    text, actions = _shown(candidates=[_id("rg-aks", "aks-prod")], pasted=gone, named=False)
    assert actions == [LOOKUP_PICK, LOOKUP_OPEN]
    assert "AKS cluster aks-gone (rg-aks), but I found none like it" in text


def test_without_a_named_resource_the_card_asks_which() -> None:
    text, actions = _shown(candidates=[])
    assert actions == [LOOKUP_OPEN]
    assert "tell me which AKS cluster pulled" in text
