"""PDF of the HTML report, printed by a locally installed headless Chromium (no network:
the report has no external resources). Optional: without a browser, `PdfUnavailable` says
what to install; the HTML report prints to PDF from any browser as well."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class PdfUnavailable(RuntimeError):
    """No headless browser to print the report with, or printing failed."""


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def html_to_pdf(html: Path, pdf: Path, *, browser: str | None = None, timeout: int = 120) -> Path:
    exe = browser or find_browser()
    if exe is None:
        raise PdfUnavailable(
            "no headless Chromium found for PDF output (apt-get install chromium); "
            "the HTML report can be printed to PDF from any browser"
        )
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-pdf-header-footer",
        "--print-to-pdf-no-header",
        f"--print-to-pdf={pdf.resolve()}",
        html.resolve().as_uri(),
    ]
    try:
        subprocess.run(cmd, check=True, timeout=timeout, capture_output=True)
    except (subprocess.SubprocessError, OSError) as exc:
        raise PdfUnavailable(f"printing {html.name} to PDF failed: {exc}") from None
    if not pdf.is_file() or pdf.read_bytes()[:5] != b"%PDF-":
        raise PdfUnavailable(f"printing {html.name} to PDF produced no PDF")
    return pdf
