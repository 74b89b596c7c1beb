# Shared helpers of scripts/*: installing what a fresh machine lacks.
# Sourced, not run.

step() { printf '\n==> %s\n' "$*"; }

apt_updated=0
# Installs Debian packages that are missing (as root, or with sudo).
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  step "installing ${missing[*]}"
  if [ $apt_updated -eq 0 ]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust_tools() {
  command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
}

# Headless Chromium and its WebDriver, for the browser tests (tests/it/browser.rs).
ensure_browser() {
  apt_install chromium chromium-driver
  command -v chromedriver >/dev/null || [ -x /usr/bin/chromedriver ] || { echo "chromedriver is required (apt-get install chromium-driver)"; exit 1; }
}

# Python's authlib and requests, for the standard-client proof
# (tests/clients/python/, driven by tests/it/oauth_standard.rs).
ensure_python_clients() {
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import authlib, requests' 2>/dev/null && return 0
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  step "installing authlib and requests from PyPI"
  python3 -m pip install -q authlib requests 2>/dev/null \
    || python3 -m pip install -q --break-system-packages authlib requests
}

# Python's aiosmtpd: the real SMTP server the mail tests send to
# (tests/clients/python/smtp_sink.py, driven by tests/it/support/mail.rs).
ensure_smtp_server() {
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import aiosmtpd' 2>/dev/null && return 0
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  step "installing aiosmtpd from PyPI"
  python3 -m pip install -q aiosmtpd 2>/dev/null \
    || python3 -m pip install -q --break-system-packages aiosmtpd
}

# Python's standardwebhooks: the Standard Webhooks library an integration
# author would verify our events with (tests/clients/python/verify_webhook.py,
# driven by tests/it/webhooks.rs).
ensure_webhook_verifier() {
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import standardwebhooks' 2>/dev/null && return 0
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  step "installing standardwebhooks from PyPI"
  python3 -m pip install -q standardwebhooks==1.1.0 2>/dev/null \
    || python3 -m pip install -q --break-system-packages standardwebhooks==1.1.0
}

# Schemathesis, the contract fuzzer that checks the live server against its
# OpenAPI description (tests/it/openapi.rs). Pinned: its checks and the cases
# a seed generates change between versions.
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
  command -v python3 >/dev/null || apt_install python3
  [ "$(schemathesis --version 2>/dev/null)" = "schemathesis, version $SCHEMATHESIS_VERSION" ] && return 0
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  step "installing schemathesis $SCHEMATHESIS_VERSION from PyPI"
  python3 -m pip install -q "schemathesis==$SCHEMATHESIS_VERSION" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "schemathesis==$SCHEMATHESIS_VERSION"
}
