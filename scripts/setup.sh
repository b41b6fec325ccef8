#!/usr/bin/env bash
# Installs what the tests and `make local` need, when it is missing: Debian's
# nginx, gunicorn and wrk for the service tests, chromium for the report
# page's test, moto's server and cfn-lint
# for the AWS emulation and template checks, the AWS CLI for the README's
# plain-moto sequence, and the Go modules.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
apt_missing=()
for pkg in nginx gunicorn wrk chromium; do
  command -v "$pkg" >/dev/null 2>&1 || apt_missing+=("$pkg")
done
if ((${#apt_missing[@]})); then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing ${apt_missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
    # Debian starts nginx on install; the tests start their own.
    command -v service >/dev/null 2>&1 && service nginx stop >/dev/null 2>&1 || true
  else
    echo "missing: ${apt_missing[*]} (install them with your package manager)" >&2
    exit 1
  fi
fi

if ! "$PYTHON" -c 'import moto, moto.server, flask' >/dev/null 2>&1 || \
   [ "$("$PYTHON" -c 'import moto; print(moto.__version__)')" != "5.2.1" ]; then
  echo "installing moto[server]==5.2.1"
  "$PYTHON" -m pip install -q 'moto[server]==5.2.1'
fi
command -v cfn-lint >/dev/null 2>&1 || "$PYTHON" -m pip install -q 'cfn-lint>=1.51'
# The AWS CLI, which the README's plain-moto sequence uses and its test runs.
command -v aws >/dev/null 2>&1 || "$PYTHON" -m pip install -q awscli

go mod download

# The Lambda Runtime Interface Emulator, to run built bootstraps in tests.
if ! command -v aws-lambda-rie >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/aws-lambda-rie" ]; then
  echo "installing aws-lambda-rie"
  go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
fi
