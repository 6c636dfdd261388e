"""The demo's conversation: a developer's refused pull, from the paste to the rule removed at
expiry, played through `function_app`'s own functions against local stand-ins — Azurite
(storage and the job queue), the ARM emulator (the registry) and the Slack emulator — and
printed as a transcript of what each person saw in Slack, with the registry's rules alongside.

Nothing here talks to Slack or Azure; the same code paths run in production.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import function_app
from bot import functions
from bot.cli.diagnose import load_registries
from bot.cli.render import format_diagnosis
from bot.runtime import Runtime
from sandbox.arm_egress import Estate, seed_estate
from sandbox.arm_emulator import ArmEmulator
from sandbox.azurite import Azurite
from sandbox.credentials import StaticTokenCredential
from sandbox.functions_host import FunctionsHost
from sandbox.slack_client import SlackClient
from sandbox.slack_emulator import SlackEmulator
from services.clock import FrozenClock, SystemClock
from services.diagnosis.known_ips import KnownIps, KnownIpsError
from services.diagnosis.parsing import parse_pull_failure
from services.diagnosis.service_tags import ServiceTagIndex, ServiceTagsError
from services.diagnosis.verdicts import Diagnosis, diagnose
from services.domain.registry import RegistryState
from services.settings import Settings

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
SECRET = "demo-signing-secret"
TOKEN = "xoxb-demo"
SUBSCRIPTION = "00000000-0000-0000-0000-00000000c0de"
RESOURCE_GROUP = "rg-registry"
DANA, ARI, SAM = "U0DANA", "U0ARI", "U0SAM"
BUILD, APPROVALS = "C0BUILD", "C0APPROVALS"

#: The seed report's case: docker behind the Application Gateway's custom domain.
PASTE = (
    "$ docker pull cr.contoso.cloud/shop/api:1.4\n"
    'Error response from daemon: Head "https://cr.contoso.cloud/v2/shop/api/manifests/1.4": '
    "denied: client with IP '91.38.188.165' is not allowed access. Refer "
    "https://aka.ms/acr/firewall to grant access."
)
#: Errors that hide the refused address but name the resource the pull ran on, in the shapes of
#: public reports: Container Apps' provisioning error (microsoft/azure-container-apps#1061), App
#: Service's Docker log (Azure/acr#124, MicrosoftDocs/azure-docs#51476) and a pod's events on
#: an AKS node (kubernetes/kubernetes#92326, Azure/AKS#4459). The bot finds the resource in
#: Azure and looks its egress up with one click.
CONTAINER_APP_PASTE = (
    "(ContainerAppOperationError) Failed to provision revision for container app "
    f"'{Estate.container_app}'. Error details: The following field(s) are either invalid or "
    "missing. Field 'template.containers.api.image' is invalid with details: 'Invalid value: "
    '"contosoprod.azurecr.io/shop/api:1.4": unable to pull image using Managed identity system '
    "for registry contosoprod.azurecr.io';."
)
APP_SERVICE_PASTE = (
    "2025-03-02T08:14:51.123Z INFO  - Pulling image: contosoprod.azurecr.io/shop/web:2.0\n"
    "2025-03-02T08:14:51.456Z ERROR - DockerApiException: Docker API responded with status "
    'code=InternalServerError, response={"message":"denied"}\n'
    "2025-03-02T08:14:51.460Z WARN  - Image pull failed. Defaulting to local copy if present.\n"
    f"2025-03-02T08:14:51.471Z INFO  - Stopping site {Estate.web_app} because it failed during "
    "startup."
)
AKS_PASTE = (
    "Events:\n"
    "  Type     Reason     Age               From               Message\n"
    "  Normal   Scheduled  2m                default-scheduler  Successfully assigned "
    "shop/api-7fd6966748-txsdm to aks-nodepool1-17585647-vmss000001\n"
    "  Normal   Pulling    70s (x3 over 2m)  kubelet            Pulling image "
    '"contosoprod.azurecr.io/shop/api:1.4"\n'
    "  Warning  Failed     70s (x3 over 2m)  kubelet            Failed to pull image "
    '"contosoprod.azurecr.io/shop/api:1.4": failed to resolve reference '
    '"contosoprod.azurecr.io/shop/api:1.4": failed to authorize: failed to fetch anonymous '
    "token: unexpected status from GET request to https://contosoprod.azurecr.io/oauth2/token?"
    "scope=repository%3Ashop%2Fapi%3Apull&service=contosoprod.azurecr.io: 403 Forbidden"
)
#: (resource, its egress addresses in the estate, the paste naming it).
NAMED_PASTES = (
    (Estate.container_app, Estate.container_app_ips, CONTAINER_APP_PASTE),
    (Estate.web_app, Estate.web_app_ips, APP_SERVICE_PASTE),
    (Estate.aks_cluster, (Estate.aks_ip,), AKS_PASTE),
)


def _settings(azurite: Azurite, arm: ArmEmulator, slack: SlackEmulator) -> Settings:
    return Settings(
        storage_connection_string=azurite.connection_string,
        table_prefix="demo",
        queue_name=function_app.JOB_QUEUE,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        slack_team_ids=(slack.team_id,),
        slack_bot_user_id=slack.bot_user_id,
        slack_bot_id=slack.bot_id,
        slack_approvals_channel=APPROVALS,
        registries=[
            {
                "name": "contosoprod",
                "subscription_id": SUBSCRIPTION,
                "resource_group": RESOURCE_GROUP,
                "custom_domains": ["cr.contoso.cloud"],
                "approvers": [ARI, SAM],
            }
        ],
        known_ips={"4.175.12.34": "NAT gateway ng-aks-prod-westeurope"},
        service_tags={"file": str(EXAMPLES_DIR / "service-tags.json")},
        egress_lookup=True,
        # dana asks for five looked-up addresses in one afternoon (three is the default limit).
        policy={"max_open_requests_per_requester": 8},
        arm={
            "endpoint": arm.base_url,
            "ca_bundle": arm.ca_path,
            "polling_interval": 0,
            "busy_retry_seconds": 0,
            "failure_retry_seconds": 0,
            "lock_container": "demo-locks",
        },
    )


def run_conversation(out: TextIO) -> dict[str, float]:
    """Play the conversation and print its transcript; returns measured figures."""
    figures: dict[str, float] = {}
    start = datetime.now(UTC).replace(microsecond=0)
    with (
        Azurite() as azurite,
        ArmEmulator() as arm,
        SlackEmulator(bot_token=TOKEN, clock=SystemClock()) as slack,
    ):
        for user, name in ((DANA, "dana"), (ARI, "ari"), (SAM, "sam")):
            slack.add_user(user, name)
        slack.add_channel(BUILD, "build", members=[DANA, ARI])
        slack.add_channel(APPROVALS, "acr-approvals", members=[ARI, SAM])
        arm.add_registry(SUBSCRIPTION, RESOURCE_GROUP, "contosoprod", rules=["4.175.12.34"])
        seed_estate(arm, SUBSCRIPTION)
        settings = _settings(azurite, arm, slack)
        clock = FrozenClock(start)
        runtime = Runtime(settings, clock=clock, credential=StaticTokenCredential())
        functions.install(runtime)
        host = FunctionsHost(function_app, settings)
        client = SlackClient(SECRET, emulator=slack)

        def rules(note: str) -> None:
            slack.narrate(
                f"(registry contosoprod: ipRules {', '.join(arm.rules('contosoprod'))}) {note}",
                place="Azure",
            )

        def send(request: object) -> None:
            response = host.http(request.to_azure())  # type: ignore[attr-defined]
            if response.status_code != 200:
                raise RuntimeError(f"the HTTP function answered {response.status_code}")

        def work(until: Callable[[], bool] | None = None) -> None:
            host.run_queue(until=until, timeout=60)

        try:
            rules("before")
            send(client.slash_command("/acr-why", PASTE, user=DANA, channel=BUILD))
            work()
            card = slack.ephemerals(DANA)[-1]
            send(client.block_action("request_access", user=DANA, message=card))
            view = slack.calls("views.open")[-1].response["view"]
            send(
                client.view_submission(
                    view["id"],
                    user=DANA,
                    values={
                        "justification": {
                            "justification_text": "Deploying the 1.4 hotfix from my laptop"
                        },
                    },
                )
            )
            work()
            approval = next(m for m in slack.messages(APPROVALS) if "Access request" in m.text)
            arm.clear_log()
            clicked = time.perf_counter()
            # Ari allows 1 h of the 4 h asked: the card's duration choice, then Approve.
            shorter = {"approval_duration": {"approval_duration_choice": "3600"}}
            send(client.block_action("grant_approve", user=ARI, message=approval, selected=shorter))
            [grant] = list(runtime.ports.grants.scan())

            def active_card() -> bool:
                shown = slack.message(APPROVALS, approval.ts)
                return "allowed until" in json.dumps(shown.blocks)

            work(until=active_card)
            figures["approve_to_active_card_s"] = time.perf_counter() - clicked
            calls = [r.kind for r in arm.requests]
            figures["arm_calls_of_the_approval"] = float(len(calls))
            work()
            rules("after the approval")
            clock.advance(timedelta(minutes=35))
            slack.narrate("(35 minutes later, the sweep timer fires)", place="Azure")
            host.timer()
            work()
            mine = next(m for m in slack.messages(DANA) if m.text.startswith("Your request:"))
            send(client.block_action("grant_extend_ask", user=DANA, message=mine))
            view = slack.calls("views.open")[-1].response["view"]
            more = {"duration": {"duration_choice": "3600"}}
            send(client.view_submission(view["id"], user=DANA, values=more))
            work()
            approval = slack.message(APPROVALS, approval.ts)
            send(client.block_action("grant_extend_approve", user=SAM, message=approval))
            work()
            deadline = runtime.ports.grants.get(grant.id)[0].expires_at
            clock.advance(timedelta(hours=1, minutes=30))
            slack.narrate("(an hour and a half later, the sweep timer fires)", place="Azure")
            host.timer()
            work()
            rules("after the sweep")
            ended = runtime.ports.grants.get(grant.id)[0]
            if ended.state.value != "expired" or ended.ended_at != deadline:
                raise RuntimeError(f"the demo's grant ended {ended.state.value}, not expired")
            send(client.app_home_opened(user=ARI))
            work()
            for name, ips, paste in NAMED_PASTES:
                slack.narrate(
                    f"(later: a pull on {name} is refused, and the error hides the address)"
                )
                send(client.slash_command("/acr-why", paste, user=DANA, channel=BUILD))
                work()
                named = slack.ephemerals(DANA)[-1]
                send(client.block_action("egress_lookup_named", user=DANA, message=named))
                work()
                egress = slack.ephemerals(DANA)[-1]
                send(client.block_action("request_access", user=DANA, message=egress))
                view = slack.calls("views.open")[-1].response["view"]
                reason = {"justification_text": f"{name} cannot pull the release"}
                send(
                    client.view_submission(view["id"], user=DANA, values={"justification": reason})
                )
                work()
                for ip in ips:
                    pending = next(
                        m
                        for m in slack.messages(APPROVALS)
                        if ip in m.text and "waiting for approval" in m.text
                    )
                    send(client.block_action("grant_approve", user=ARI, message=pending))
                work()
                rules(f"after {name}'s looked-up egress was approved")
        finally:
            functions.install(None)
        print(slack.transcript(), file=out)
    return figures


def demo_step_conversation(_inputs: DemoInputs, out: TextIO) -> None:
    """Demo step: the Slack conversation from paste to expiry."""
    print("\n== A conversation in Slack, through function_app's own functions ==", file=out)
    print(
        "(Azurite, the ARM emulator and the Slack emulator stand in for Azure and Slack.)\n",
        file=out,
    )
    figures = run_conversation(out)
    print(
        f"Approve click to the 'Active' card: {figures['approve_to_active_card_s']:.2f} s, "
        f"{figures['arm_calls_of_the_approval']:.0f} ARM calls (quota, read, PATCH answered at "
        "once as live ARM does, read back; the emulator answers without network latency).",
        file=out,
    )


# -- the demo's steps --------------------------------------------------------------------


@dataclass
class DemoInputs:
    """Everything under `examples/` the demo steps use."""

    registries: list[RegistryState]
    known_ips: KnownIps
    service_tags: ServiceTagIndex
    custom_domains: dict[str, str]
    pastes: list[Path] = field(default_factory=list)


def load_demo_inputs(examples: Path = EXAMPLES_DIR) -> DemoInputs:
    """Load the example registry snapshots, address lists and pastes; ValueError when broken."""
    domains_file = examples / "custom-domains.json"
    domains: Mapping[str, str] = (
        json.loads(domains_file.read_text(encoding="utf-8")) if domains_file.exists() else {}
    )
    return DemoInputs(
        registries=[
            reg
            for path in sorted((examples / "registries").glob("*.json"))
            for reg in load_registries(path)
        ],
        known_ips=KnownIps.load(examples / "known-ips.json"),
        service_tags=ServiceTagIndex.load(examples / "service-tags.json"),
        custom_domains={k.lower(): v.lower() for k, v in domains.items()},
        pastes=sorted((examples / "pastes").glob("*.txt")),
    )


def demo_diagnose_paste(inputs: DemoInputs, paste: Path) -> Diagnosis:
    """Diagnose one example paste against every example snapshot."""
    failure = parse_pull_failure(
        paste.read_text(encoding="utf-8"), custom_domains=inputs.custom_domains or None
    )
    return diagnose(
        failure,
        registries=inputs.registries,
        known_ips=inputs.known_ips,
        service_tags=inputs.service_tags,
    )


def demo_step_diagnose(inputs: DemoInputs, out: TextIO) -> None:
    """Step: diagnose every example paste and print the result."""
    print(
        f"== Diagnosing {len(inputs.pastes)} example pastes against "
        f"{len(inputs.registries)} registries "
        f"({', '.join(r.name for r in inputs.registries)}) ==",
        file=out,
    )
    for paste in inputs.pastes:
        print(f"\n--- {paste.name} ---", file=out)
        print(format_diagnosis(demo_diagnose_paste(inputs, paste)), file=out)


DEMO_STEPS: list[Callable[[DemoInputs, TextIO], None]] = [
    demo_step_diagnose,
    demo_step_conversation,
]


def run_demo(
    out: TextIO,
    examples: Path = EXAMPLES_DIR,
    steps: Sequence[Callable[[DemoInputs, TextIO], None]] | None = None,
) -> int:
    """Run the demo steps (all by default) on the examples; returns the exit code."""
    try:
        inputs = load_demo_inputs(examples)
    except (ValueError, OSError, KnownIpsError, ServiceTagsError) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    for step in DEMO_STEPS if steps is None else steps:
        step(inputs, out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m sandbox.demo [--examples DIR]` (what `make demo` runs)."""
    parser = argparse.ArgumentParser(
        prog="demo", description="Run the demo on the example pastes, snapshots and address lists."
    )
    parser.add_argument("--examples", type=Path, default=EXAMPLES_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return run_demo(sys.stdout, args.examples)


if __name__ == "__main__":
    raise SystemExit(main())
