"""The diagnosis card says what it read: which file, and how much of a long log or paste."""

from __future__ import annotations

import json
import random
import string

from bot.files import AttachedText, Refusal
from bot.jobs import DiagnoseJob, Origin, Surface
from bot.views.diagnosis import diagnosis_blocks, read_note
from services.diagnosis.parsing import parse_pull_failure
from services.diagnosis.verdicts import diagnose
from services.domain.failure import ReadExtent, ReadPart
from services.flows.diagnose import DiagnosisResult

DENIAL = (
    "denied: client with IP '20.61.12.7' is not allowed access. Refer https://aka.ms/acr/firewall"
)


def result_of(text: str, source: ReadExtent | None = None) -> DiagnosisResult:
    return DiagnosisResult(diagnosis=diagnose(parse_pull_failure(text, source=source)))


def file_named(name: str, **fields: object) -> AttachedText:
    return AttachedText("F1", name, **fields)  # type: ignore[arg-type]


def test_a_whole_file_is_named_with_its_size() -> None:
    result = result_of(DENIAL)
    note = read_note(result, file_named("build.log", text=DENIAL))
    assert note == f":page_facing_up: From `build.log`: I read all {len(DENIAL)} bytes."


def test_the_end_of_a_long_file_says_how_much_of_it() -> None:
    source = ReadExtent(part=ReadPart.END, read_bytes=len(DENIAL), total_bytes=3_100_000)
    note = read_note(result_of(DENIAL, source), file_named("build.log", text=DENIAL))
    assert note == (
        ":page_facing_up: From `build.log`: I read the last 92 bytes of 3.1 MB (a log prints "
        "its errors last)."
    )


def test_the_start_of_a_file_says_what_to_do_if_the_error_is_later() -> None:
    source = ReadExtent(part=ReadPart.START, read_bytes=1_000_000, total_bytes=9_000_000)
    note = read_note(result_of(DENIAL + "\n", source), file_named("a.log", text=DENIAL))
    assert note is not None
    assert "I read the first" in note
    assert "of 9.0 MB" in note
    assert "paste its last lines" in note


def test_a_file_refused_beside_a_paste_is_told_on_the_card() -> None:
    png = file_named("shot.png", refusal=Refusal.NOT_TEXT, kind="PNG")
    blocks = json.dumps([b.to_dict() for b in diagnosis_blocks(result_of(DENIAL), file=png)])
    assert "I can't read `shot.png` (PNG)" in blocks
    assert "I read the message instead" in blocks


def test_a_long_paste_says_it_kept_its_end() -> None:
    text = "ok\n" * 400_000 + DENIAL
    note = read_note(result_of(text))
    assert note == ":scissors: The paste was long: I read the last 1.0 MB of 1.2 MB."
    assert read_note(result_of(DENIAL)) is None


def test_a_file_name_cannot_carry_markup() -> None:
    note = read_note(result_of(DENIAL), file_named("<!channel> `x`.log", text=DENIAL))
    assert note is not None
    assert "<!channel>" not in note
    assert "&lt;!channel&gt;" in note


def test_a_paste_cut_to_fit_the_queue_tells_its_bytes() -> None:
    rng = random.Random(5)
    # Incompressible, so zlib cannot fit it in the queue whole.
    noise = "".join(rng.choice(string.ascii_letters) for _ in range(60_000)) + "\n" + DENIAL
    origin = Origin(surface=Surface.DM, team_id="T1", user_id="U1", channel_id="D1")
    job = DiagnoseJob.of(key="k", origin=origin, text=noise)
    assert job.cut > 0
    assert job.text.endswith(DENIAL)
    assert job.source == ReadExtent(
        part=ReadPart.END, read_bytes=len(noise) - job.cut, total_bytes=len(noise)
    )
    note = read_note(result_of(job.text, job.source))
    assert note is not None
    assert note.startswith(":scissors: The paste was long: I read the last")
    assert note.endswith("of 60 KB.")


def test_a_job_with_a_file_carries_its_id_not_the_file() -> None:
    origin = Origin(surface=Surface.DM, team_id="T1", user_id="U1", channel_id="D1")
    job = DiagnoseJob.of(key="k", origin=origin, text="", file_id="F1", file_name="b.log")
    assert (job.file_id, job.file_name, job.source) == ("F1", "b.log", None)
    assert len(job.model_dump_json()) < 1_000
