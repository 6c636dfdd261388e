"""Reading a file someone attached to a direct message or a mention: a `.log` or `.txt` file, or
the snippet Slack makes of a long paste.

The event names the file; the worker asks `files.info` for it (the event's copy may be a stub:
Slack Connect sends `file_access: check_file_info` and no URL) and downloads its
`url_private_download` with the bot token in `Authorization: Bearer`, as Slack documents (the
`files:read` scope). Only text is read: the type is judged from Slack's `mode`, `mimetype`,
`filetype` and the name first, then from the bytes (NULs or control characters: not text;
UTF-16, as PowerShell writes it, is decoded).

A file is never loaded whole. One longer than `limit_bytes` is asked for its end (`Range:
bytes=-N`: logs print their errors last); a host that ignores the range sends the file from its
start, and reading stops at the limit, so the result says it read the start. The token goes to
Slack's own hosts only (and to the host of the configured API URL, for a stand-in), and a
redirect to another host is never followed: Slack answers a download it will not serve with a
redirect to its sign-in page.

What Slack refuses is an `AttachedText` with a `refusal` and words for the person; what may pass
(a 5xx, a dropped connection, a time-out) raises `FileUnavailable`, so the queue tries the job
again.
"""

from __future__ import annotations

import codecs
import logging
import re
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from enum import StrEnum
from http.client import HTTPException, HTTPResponse
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

if TYPE_CHECKING:
    from services.domain.failure import ReadExtent

logger = logging.getLogger(__name__)

_CHUNK = 65_536
#: Slack's `filetype`s and MIME types of text a pull error may come in.
_TEXT_FILETYPES = frozenset(
    {"text", "log", "csv", "tsv", "json", "yaml", "xml", "markdown", "shell", "powershell", "diff"}
)
_TEXT_MIMETYPES = frozenset(
    {
        "application/json",
        "application/x-ndjson",
        "application/yaml",
        "application/x-yaml",
        "application/xml",
        "application/x-sh",
    }
)
_TEXT_SUFFIXES = (".log", ".txt", ".out", ".err")
_SLACK_HOSTS = ("slack.com", "slack-edge.com", "slack-gov.com")
#: Bytes that do not occur in text (besides NUL): other C0 controls than tab, line breaks, form
#: feed, backspace and escape (terminal colours).
_CONTROL = re.compile(rb"[\x01-\x07\x0e-\x1a\x1c-\x1f]")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class Refusal(StrEnum):
    NOT_TEXT = "not_text"
    BINARY = "binary"
    EMPTY = "empty"
    EXTERNAL = "external"
    NOT_FOUND = "not_found"
    NO_ACCESS = "no_access"


class FileUnavailable(Exception):
    """Slack's file service failed in a way that may pass (5xx, time-out, dropped connection)."""


@dataclass(frozen=True, slots=True)
class AttachedText:
    """What was read of an attached file: its text and how much of it, or why it was not read."""

    file_id: str
    name: str
    #: The file's size as Slack gives it (bytes); 0 when unknown.
    size: int = 0
    text: str | None = None
    #: How much of the file `text` is (its end when it was long).
    extent: ReadExtent | None = None
    refusal: Refusal | None = None
    #: What Slack calls the file's type (`PNG`, `Plain Text`), for the answer to a refusal.
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Pasted:
    """What a diagnosis reads: the attached file's text, or the message's own paste."""

    text: str
    #: What `text` is a part of, when it is not all of it.
    source: ReadExtent | None = None
    #: The attached file, read or refused.
    file: AttachedText | None = None

    @property
    def refused_alone(self) -> bool:
        """A file was refused and the message holds nothing else to read."""
        return self.file is not None and self.file.refusal is not None and not self.text.strip()


def paste_of(
    client: WebClient,
    *,
    text: str,
    source: ReadExtent | None = None,
    file_id: str | None = None,
    file_name: str | None = None,
    limit_bytes: int | None = None,
) -> Pasted:
    """The attached file when there is one and it can be read (it holds the log; the message
    beside it is a question), else the message's text. A file is read up to `limit_bytes`,
    by default as much as the parser reads."""
    if file_id is None:
        return Pasted(text, source)
    if limit_bytes is None:
        # The parser's module is large; the front door imports this one for `looks_like_text`.
        from services.diagnosis.parsing import MAX_PASTE_BYTES

        limit_bytes = MAX_PASTE_BYTES
    attached = read_attached(client, file_id, limit_bytes=limit_bytes, name=file_name)
    if attached.text is not None:
        return Pasted(attached.text, attached.extent, attached)
    logger.info("file %s not read: %s", file_id, attached.refusal)
    return Pasted(text, source, attached)


def read_attached(
    client: WebClient, file_id: str, *, limit_bytes: int, name: str | None = None
) -> AttachedText:
    """The text of the file `file_id`, at most its last `limit_bytes` (see the module's notes);
    `name`, the event's, names it when Slack will not. Raises `FileUnavailable` when Slack
    failed in a way that may pass."""
    try:
        info: dict[str, Any] = client.files_info(file=file_id)["file"]
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        if error in ("file_not_found", "file_deleted"):
            return AttachedText(file_id, name or file_id, refusal=Refusal.NOT_FOUND)
        if error in ("missing_scope", "not_allowed_token_type", "no_permission", "access_denied"):
            return AttachedText(file_id, name or file_id, refusal=Refusal.NO_ACCESS)
        if error in ("ratelimited", "fatal_error", "internal_error", "service_unavailable"):
            raise FileUnavailable(f"files.info: {error}") from exc
        raise
    file = AttachedText(
        file_id,
        str(info.get("name") or info.get("title") or name or file_id),
        size=_int(info.get("size")),
        kind=str(info.get("pretty_type") or info.get("filetype") or "") or None,
    )
    mode = info.get("mode")
    if mode == "tombstone":
        return _refused(file, Refusal.NOT_FOUND)
    if info.get("is_external") or mode == "external":
        return _refused(file, Refusal.EXTERNAL)
    if not looks_like_text(info):
        return _refused(file, Refusal.NOT_TEXT)
    url = str(info.get("url_private_download") or info.get("url_private") or "")
    if not url or not _may_carry_token(client, url):
        return _refused(file, Refusal.NO_ACCESS)
    if file.size == 0 and mode != "snippet":
        return _refused(file, Refusal.EMPTY)
    return _download(client, file, url, limit_bytes=limit_bytes, html=_is_html(info))


def _refused(file: AttachedText, refusal: Refusal) -> AttachedText:
    return AttachedText(file.file_id, file.name, file.size, refusal=refusal, kind=file.kind)


def _int(value: Any) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def looks_like_text(info: dict[str, Any]) -> bool:
    """Whether Slack's description of a file (an event's or `files.info`'s) says text."""
    if info.get("mode") == "snippet":
        return True  # a snippet is text whatever language Slack guessed for it
    mimetype = str(info.get("mimetype") or "").lower()
    if mimetype.startswith("text/") or mimetype in _TEXT_MIMETYPES:
        return True
    if str(info.get("filetype") or "").lower() in _TEXT_FILETYPES:
        return True
    # A `.log` may come as application/octet-stream; its bytes decide.
    return str(info.get("name") or "").lower().endswith(_TEXT_SUFFIXES)


def _is_html(info: dict[str, Any]) -> bool:
    return str(info.get("mimetype") or "").lower() == "text/html"


def _may_carry_token(client: WebClient, url: str) -> bool:
    """Whether the bot token may be sent to `url`: Slack's hosts over HTTPS, or the host of
    the API URL the client is configured with (a stand-in on loopback)."""
    parts, api = urlsplit(url), urlsplit(client.base_url)
    host = (parts.hostname or "").lower()
    if (parts.scheme, parts.netloc) == (api.scheme, api.netloc):
        return True
    return parts.scheme == "https" and any(
        host == h or host.endswith("." + h) for h in _SLACK_HOSTS
    )


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect on the same host only: the token must not travel anywhere else, and a
    redirect elsewhere is Slack's sign-in page."""

    def redirect_request(  # noqa: PLR0917 (urllib calls it so)
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        old, new = urlsplit(req.full_url), urlsplit(newurl)
        if (old.scheme, old.netloc) != (new.scheme, new.netloc):
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(client: WebClient) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = [_SameHostRedirects()]
    context = client.ssl if isinstance(client.ssl, ssl.SSLContext) else None
    handlers.append(urllib.request.HTTPSHandler(context=context))
    if client.proxy:
        handlers.append(urllib.request.ProxyHandler({"http": client.proxy, "https": client.proxy}))
    return urllib.request.build_opener(*handlers)


def _download(
    client: WebClient, file: AttachedText, url: str, *, limit_bytes: int, html: bool
) -> AttachedText:
    headers = {"Authorization": f"Bearer {client.token}", "Accept-Encoding": "identity"}
    if file.size > limit_bytes:
        headers["Range"] = f"bytes=-{limit_bytes}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with _opener(client).open(request, timeout=client.timeout) as response:
            return _read_response(file, response, limit_bytes=limit_bytes, html=html)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (404, 410):
            return _refused(file, Refusal.NOT_FOUND)
        if exc.code == 416:  # no byte to serve
            return _refused(file, Refusal.EMPTY)
        if exc.code in (401, 403) or 300 <= exc.code < 400:
            return _refused(file, Refusal.NO_ACCESS)
        raise FileUnavailable(f"file download: HTTP {exc.code}") from exc
    except (urllib.error.URLError, HTTPException, OSError) as exc:
        raise FileUnavailable(f"file download: {exc}") from exc


def _read_response(
    file: AttachedText, response: HTTPResponse, *, limit_bytes: int, html: bool
) -> AttachedText:
    # Imported here: the front door imports this module (`looks_like_text`, and the refusals
    # its messages name), and the failure model is pydantic's, which an acknowledgement never
    # loads.
    from services.domain.failure import ReadExtent, ReadPart

    if response.headers.get_content_type() == "text/html" and not html:
        return _refused(file, Refusal.NO_ACCESS)  # a sign-in page, not the file
    total = file.size
    start = 0
    if response.status == 206:
        ranged = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range") or "")
        if ranged is None:
            raise FileUnavailable("file download: a partial answer without its range")
        start = int(ranged.group(1))
        total = int(ranged.group(3)) if ranged.group(3) != "*" else max(total, start)
    elif (length := _int(response.headers.get("Content-Length"))) > total:
        total = length
    chunks: list[bytes] = []
    got = 0
    while got < limit_bytes:
        chunk = response.read(min(_CHUNK, limit_bytes - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    # More left: the host sent the whole file from its start (it ignored the range).
    more = got >= limit_bytes and bool(response.read(1))
    data = b"".join(chunks)
    total = max(total, start + got + (1 if more else 0))
    if start + got < total and start == 0:
        part = ReadPart.START
    else:
        part = ReadPart.END if start > 0 else ReadPart.WHOLE
    if got == 0:
        return _refused(file, Refusal.EMPTY)
    text = _decode(data, at_start=start == 0, cut_end=part is ReadPart.START)
    if text is None:
        return _refused(file, Refusal.BINARY)
    return AttachedText(
        file.file_id,
        file.name,
        total,
        text=text,
        extent=ReadExtent(part=part, read_bytes=got, total_bytes=total),
        kind=file.kind,
    )


def _decode(data: bytes, *, at_start: bool, cut_end: bool) -> str | None:
    """The bytes as text, or None when they are not text. UTF-8 (a character cut at either edge
    is dropped), or UTF-16 by its byte-order mark or its NULs."""
    if at_start and data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return _utf16(data[2:], "utf-16-le" if data[:2] == codecs.BOM_UTF16_LE else "utf-16-be")
    if b"\x00" in data:
        sample = data[:_CHUNK]
        half = max(len(sample) // 2, 1)
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        # ASCII in UTF-16 has a NUL in every other byte; a read that began on an odd byte shows
        # little-endian as big-endian, which reads the same for those characters.
        if odd > half * 0.3 and even < half * 0.05:
            return _utf16(data, "utf-16-le")
        if even > half * 0.3 and odd < half * 0.05:
            return _utf16(data, "utf-16-be")
        return None
    if at_start and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if len(_CONTROL.findall(data[:_CHUNK])) > len(data[:_CHUNK]) // 100:
        return None
    if not at_start:
        data = data[_continuation(data) :]
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    text: str = decoder.decode(data, final=not cut_end)
    if text.count("\ufffd") > len(text) // 10:
        return None
    return text


def _continuation(data: bytes) -> int:
    """How many bytes of a character cut in half open `data` (UTF-8 continuation bytes)."""
    n = 0
    while n < min(3, len(data)) and 0x80 <= data[n] < 0xC0:
        n += 1
    return n


def _utf16(data: bytes, encoding: str) -> str:
    return data[: len(data) // 2 * 2].decode(encoding, "replace")


__all__ = [
    "AttachedText",
    "FileUnavailable",
    "Pasted",
    "Refusal",
    "looks_like_text",
    "paste_of",
    "read_attached",
]
