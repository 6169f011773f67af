#!/usr/bin/env bash
# Detached CMS (CAdES-BES) fixtures in fixtures/cms/ from the test PKI,
# with the openssl CLI. Run scripts/make-test-pki.sh first.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKI="${PKI:-$HERE/../certs/test-pki}"
OUT="${1:-$HERE/../fixtures/cms}"
mkdir -p "$OUT"
cd "$OUT"

printf '%s\n' \
  'Đơn đề nghị cấp bản sao trích lục khai sinh (tài liệu thử nghiệm).' \
  'Họ và tên: Nguyễn Văn An. Số CCCD: 001099012345.' \
  'Nơi cư trú: phường Dịch Vọng, quận Cầu Giấy, thành phố Hà Nội.' > data.txt
# Exactly one character changed: the citizen number's last digit.
sed 's/001099012345/001099012346/' data.txt > data-tampered.txt
cmp -s data.txt data-tampered.txt && { echo "tamper failed" >&2; exit 1; }

sign() { # sign SIGNER OUTFILE MD [extra openssl args...]
  local who="$1" out="$2" md="$3"; shift 3
  openssl cms -sign -binary -cades -md "$md" -in data.txt \
    -signer "$PKI/$who.pem" -inkey "$PKI/$who.key" \
    -certfile "$PKI/chain-licensed.pem" -outform DER -out "$out" "$@"
}
sign citizen-an data.txt.p7s sha256
openssl cms -cmsout -inform DER -in data.txt.p7s -outform PEM -out data.txt.p7s.pem
sign ecdsa-binh data-ecdsa.txt.p7s sha256
sign pss-cuong data-pss.txt.p7s sha256 \
  -keyopt rsa_padding_mode:pss -keyopt rsa_pss_saltlen:digest
sign citizen-an data-sha1.txt.p7s sha1

# Self-checks (purpose any: openssl's default smimesign purpose wants EKU).
v() { openssl cms -verify -binary -inform DER -in "$1" -content "$2" \
        -CAfile "$PKI/root-ca.pem" -purpose any -attime 1795348800 -out /dev/null 2>/dev/null; }
for f in data.txt.p7s data-ecdsa.txt.p7s data-pss.txt.p7s data-sha1.txt.p7s; do
  v "$f" data.txt || { echo "$f does not verify" >&2; exit 1; }
done
v data.txt.p7s data-tampered.txt && { echo "tampered data verifies" >&2; exit 1; }
echo "CMS fixtures written to $OUT"
