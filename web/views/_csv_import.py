"""The shared step of the two-step CSV import pages (catalog SKUs, stock counts): read the uploaded
file (or the previewed one back from its hidden field), then preview it or import it in the chosen
mode, and turn a file error into the message shown above the form. No business rules here: the
preview/apply callables are the domain services, which authorize and validate."""
from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile

from server.core.errors import DomainError, ValidationError
from web.access import request_language, translator
from web.messages import error_message

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_BODY = MAX_IMPORT_BYTES + 1024 * 1024  # the file plus the form around it


def file_error(request: Request, exc: DomainError, with_line: bool = True) -> str:
    """The error's message in the user's language, led by "Line n:" when it names a line."""
    message = error_message(exc, request_language(request))
    line = (exc.details or {}).get("line") if with_line else None
    if not line:
        return message
    _ = translator(request)
    return _("Line %(line)s: %(message)s") % {"line": line, "message": message}


async def preview_or_apply(request: Request, context: dict,
                           preview: Callable[[bytes], Awaitable[Any]],
                           apply: Callable[[bytes, str], Awaitable[Any]]) -> int:
    """step=preview: read the file and put its `preview` in the context (and the file, base64, for the
    apply form); step=apply: put the `result` of importing it in the chosen mode. Fills mode, filename
    and errors.file; returns the HTTP status (422 for a file error; 403/404 are raised)."""
    form = await request.form()
    _ = translator(request)
    step = str(form.get("step", "preview"))
    mode = str(form.get("mode", "all_or_nothing"))
    context["mode"] = mode
    upload = form.get("file")
    data = b""
    if isinstance(upload, UploadFile):
        data = await upload.read()
        context["filename"] = upload.filename
    elif form.get("data_b64"):
        try:
            data = base64.b64decode(str(form.get("data_b64")), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        context["filename"] = str(form.get("filename", ""))
    try:
        if not data:
            raise ValidationError(_("Choose a CSV file to import."), code="required", field="file")
        if len(data) > MAX_IMPORT_BYTES:
            raise ValidationError(_("The file is larger than 20 MB. Split it into smaller files."),
                                  code="too_large", field="file")
        if step == "apply":
            context["result"] = await apply(data, mode)
        else:
            context["preview"] = await preview(data)
            context["data_b64"] = base64.b64encode(data).decode()
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        context["errors"] = {"file": file_error(request, exc)}
        return 422
    return 200
