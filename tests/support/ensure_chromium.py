"""Make the Debian `chromium` package available for the console's browser tests, or fail loudly.

Playwright drives it through `executable_path`; no browser is ever downloaded.
"""

from __future__ import annotations

import shutil
import sys

from tests.support.ensure_pgtap import _apt_install

CHROMIUM = "/usr/bin/chromium"


def main() -> None:
    if shutil.which(CHROMIUM) is None:
        _apt_install("chromium")
    if shutil.which(CHROMIUM) is None:
        sys.exit(f"{CHROMIUM} is still missing: install Debian's chromium package")
    print(f"chromium available at {CHROMIUM}")


if __name__ == "__main__":
    main()
