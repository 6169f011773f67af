#!/usr/bin/env bash
# Build antin's test PKI in certs/test-pki/ with the openssl CLI (OpenSSL 3.0).
#
# Everything here is TEST material: the private keys are written unencrypted
# and committed on purpose. Never trust these certificates outside tests.
#
# Running the script again regenerates every key and certificate; the signed
# fixtures in fixtures/ then no longer match and must be regenerated too
# (scripts/make-fixtures.py, scripts/make-cms-fixtures.sh).
#
# Layout of certs/test-pki/:
#   NAME.pem / NAME.key      certificate / PKCS#8 PEM private key
#   *.crl, *.crl.pem         CRLs (DER and PEM)
#   *.ocsp                   DER OCSP responses signed by ocsp-responder
#   ca/<ca>/                 the `openssl ca` databases (index.txt, serial,
#                            crlnumber) so CRLs and OCSP can be reissued
#   openssl.cnf              the configuration used
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$HERE/../certs/test-pki}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
BASE="http://127.0.0.1:18089"

# Fixed dates so the tests are deterministic for years.
CA_START=20240101000000Z
CA_END=20450101000000Z
EE_START=20250101000000Z
EE_END=20360101000000Z
# CRLs: fixed thisUpdate (after revoked-dung's revocation date) and +10 years.
CRL_LAST=20260302000000Z
CRL_NEXT=20360302000000Z
# Revocation of revoked-dung, written into index.txt (YYMMDDHHMMSSZ form).
REVOKED_AT=260301000000Z

rm -rf "$OUT"/*.pem "$OUT"/*.key "$OUT"/*.crl "$OUT"/*.ocsp "$OUT"/*.csr "$OUT"/ca "$OUT"/openssl.cnf
cd "$OUT"

cat > openssl.cnf <<CNF
# Configuration for scripts/make-test-pki.sh. CADIR selects the CA database.
CADIR = .
[ ca ]
default_ca = testca

[ testca ]
dir              = \$ENV::CADIR
database         = \$dir/index.txt
serial           = \$dir/serial
crlnumber        = \$dir/crlnumber
new_certs_dir    = \$dir/newcerts
default_md       = sha256
default_crl_days = 3650
policy           = policy_any
unique_subject   = no
copy_extensions  = none
utf8             = yes
string_mask      = utf8only
preserve         = yes
email_in_dn      = no
name_opt         = multiline,-esc_msb,utf8
cert_opt         = ca_default

[ policy_any ]
countryName            = optional
stateOrProvinceName    = optional
localityName           = optional
organizationName       = optional
organizationalUnitName = optional
userId                 = optional
commonName             = supplied

[ req ]
distinguished_name = req_dn
string_mask        = utf8only
utf8               = yes
prompt             = no
[ req_dn ]
CN = placeholder

[ v3_root ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[ v3_licensed_ca ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints  = URI:$BASE/crl/root-ca.crl

[ v3_gov_ca ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints  = URI:$BASE/crl/gov-root.crl

[ v3_other_root ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[ aia_licensed ]
OCSP;URI.0   = $BASE/ocsp
caIssuers;URI.0 = $BASE/licensed-ca.crt

[ v3_signer ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints  = URI:$BASE/crl/licensed-ca.crl
authorityInfoAccess    = @aia_licensed

[ v3_wrong_ku ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, keyEncipherment
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints  = URI:$BASE/crl/licensed-ca.crl
authorityInfoAccess    = @aia_licensed

[ v3_ocsp ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = OCSPSigning
noCheck                = ignored
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_tsa ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, nonRepudiation
extendedKeyUsage       = critical, timeStamping
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints  = URI:$BASE/crl/licensed-ca.crl
authorityInfoAccess    = @aia_licensed

[ v3_other_signer ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_gov_signer ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints  = URI:$BASE/crl/gov-ca.crl

[ crl_ext ]
authorityKeyIdentifier = keyid:always
CNF

export OPENSSL_CONF="$OUT/openssl.cnf"

newdb() { # newdb CA
  mkdir -p "ca/$1/newcerts"
  : > "ca/$1/index.txt"
  echo "unique_subject = no" > "ca/$1/index.txt.attr"
  # Deterministic-looking serials per CA: 0x10 upwards, prefixed by a CA byte.
  echo "$2" > "ca/$1/serial"
  echo 01 > "ca/$1/crlnumber"
}

genkey() { # genkey NAME rsa BITS | ec CURVE
  case "$2" in
    rsa) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$3" -out "$1.key" 2>/dev/null ;;
    ec)  openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$3" \
           -pkeyopt ec_param_enc:named_curve -out "$1.key" ;;
  esac
}

# issue NAME CA_DB ISSUER_NAME EXT START END SUBJECT [selfsign]
issue() {
  local name="$1" db="$2" issuer="$3" ext="$4" start="$5" end="$6" subj="$7"
  openssl req -new -utf8 -key "$name.key" -subj "$subj" -out "$name.csr"
  if [ "$issuer" = self ]; then
    CADIR="ca/$db" openssl ca -batch -utf8 -notext -preserveDN -selfsign \
      -keyfile "$name.key" -in "$name.csr" -out "$name.pem" -extensions "$ext" \
      -startdate "$start" -enddate "$end" 2>/dev/null
  else
    CADIR="ca/$db" openssl ca -batch -utf8 -notext -preserveDN \
      -cert "$issuer.pem" -keyfile "$issuer.key" \
      -in "$name.csr" -out "$name.pem" -extensions "$ext" \
      -startdate "$start" -enddate "$end" 2>/dev/null
  fi
  rm -f "$name.csr"
}

newdb root-ca 1000
newdb licensed-ca 2000
newdb other-root 3000
newdb gov-root 4000
newdb gov-ca 5000

# --- National-root-shaped hierarchy -----------------------------------------
genkey root-ca rsa 2048
issue root-ca root-ca self v3_root $CA_START $CA_END \
  "/C=VN/O=Antin Test/CN=Antin Test National Root CA"

genkey licensed-ca rsa 2048
issue licensed-ca root-ca root-ca v3_licensed_ca $CA_START $CA_END \
  "/C=VN/O=Antin Test CA Co/CN=Antin Test Licensed CA"

L=licensed-ca
genkey citizen-an rsa 2048
issue citizen-an $L $L v3_signer $EE_START $EE_END \
  "/C=VN/ST=Hà Nội/L=Cầu Giấy/CN=Nguyễn Văn An/UID=CCCD:001099012345"

genkey director-mst rsa 2048
issue director-mst $L $L v3_signer $EE_START $EE_END \
  "/C=VN/ST=Thành phố Hồ Chí Minh/O=Công ty TNHH Ấn Tín Việt Nam/UID=MST:0100686209-199/UID=CCCD:079088001234/CN=Trần Quốc Đại"

genkey ecdsa-binh ec P-256
issue ecdsa-binh $L $L v3_signer $EE_START $EE_END \
  "/CN=Trần Thị Bình/UID=CCCD:001199005678"

genkey ecdsa384-khoa ec P-384
issue ecdsa384-khoa $L $L v3_signer $EE_START $EE_END \
  "/CN=Đỗ Minh Khoa/UID=CCCD:001201004321"

genkey pss-cuong rsa 2048
issue pss-cuong $L $L v3_signer $EE_START $EE_END \
  "/CN=Lê Văn Cường/UID=CCCD:038095001111"

genkey revoked-dung rsa 2048
issue revoked-dung $L $L v3_signer $EE_START $EE_END \
  "/CN=Phạm Thị Dung/UID=CCCD:040190002222"

genkey ocsp-responder rsa 2048
issue ocsp-responder $L $L v3_ocsp $EE_START $EE_END \
  "/C=VN/O=Antin Test CA Co/CN=Antin Test OCSP Responder"

genkey tsa rsa 2048
issue tsa $L $L v3_tsa $EE_START $EE_END \
  "/CN=Antin Test TSA"

genkey expired-em rsa 2048
issue expired-em $L $L v3_signer 20200101000000Z 20210101000000Z \
  "/CN=Hoàng Văn Em/UID=CCCD:001080003333"

genkey wrong-ku rsa 2048
issue wrong-ku $L $L v3_wrong_ku $EE_START $EE_END \
  "/CN=Vũ Thị Giang/UID=CCCD:001085004444"

genkey weak-rsa1024 rsa 1024
issue weak-rsa1024 $L $L v3_signer $EE_START $EE_END \
  "/CN=Ngô Văn Hùng/UID=CCCD:001070005555"

# --- Unrelated hierarchy ----------------------------------------------------
genkey other-root rsa 2048
issue other-root other-root self v3_other_root $CA_START $CA_END \
  "/CN=Unrelated Test Root"
genkey other-signer rsa 2048
issue other-signer other-root other-root v3_other_signer $EE_START $EE_END \
  "/CN=Bùi Văn Lạ/UID=CCCD:001060006666"

# --- Government-PKI-shaped hierarchy (does not chain to root-ca) -------------
genkey gov-root rsa 2048
issue gov-root gov-root self v3_root $CA_START $CA_END \
  "/CN=Antin Test RootCA chuyên dùng Chính phủ"
genkey gov-ca rsa 2048
issue gov-ca gov-root gov-root v3_gov_ca $CA_START $CA_END \
  "/CN=Antin Test CA phục vụ các cơ quan Nhà nước"
genkey gov-agency rsa 2048
issue gov-agency gov-ca gov-ca v3_gov_signer $EE_START $EE_END \
  "/C=VN/ST=Tỉnh Thử Nghiệm/O=Sở Tư pháp tỉnh Thử Nghiệm/UID=MNS:1234567/CN=Sở Tư pháp tỉnh Thử Nghiệm"
# The Government CA's delegated OCSP responder (the dev responder signs gov-ca's answers with it).
genkey gov-ocsp-responder rsa 2048
issue gov-ocsp-responder gov-ca gov-ca v3_ocsp $EE_START $EE_END \
  "/C=VN/O=Antin Test CA phục vụ các cơ quan Nhà nước/CN=Antin Test Gov OCSP Responder"

# --- Revocation ---------------------------------------------------------------
CADIR=ca/$L openssl ca -batch -revoke revoked-dung.pem -crl_reason keyCompromise \
  -cert $L.pem -keyfile $L.key 2>/dev/null
# `openssl ca -revoke` records "now"; pin the revocation date instead.
serial_dung="$(openssl x509 -in revoked-dung.pem -noout -serial | cut -d= -f2)"
awk -F'\t' -v OFS='\t' -v s="$serial_dung" -v d="$REVOKED_AT,keyCompromise" \
  '$1=="R" && $4==s { $3=d } { print }' ca/$L/index.txt > ca/$L/index.txt.new
mv ca/$L/index.txt.new ca/$L/index.txt
grep -q "$REVOKED_AT,keyCompromise" ca/$L/index.txt

gencrl() { # gencrl CA_DB
  CADIR="ca/$1" openssl ca -batch -gencrl -cert "$1.pem" -keyfile "$1.key" \
    -crlexts crl_ext -crl_lastupdate $CRL_LAST -crl_nextupdate $CRL_NEXT \
    -out "$1.crl.pem" 2>/dev/null
  openssl crl -in "$1.crl.pem" -outform DER -out "$1.crl"
}
gencrl root-ca
gencrl licensed-ca
gencrl gov-root
gencrl gov-ca

# OCSP responses from the licensed CA's database, signed by ocsp-responder.
ocsp() { # ocsp NAME SUFFIX
  openssl ocsp -index ca/$L/index.txt -CA $L.pem -rsigner ocsp-responder.pem \
    -rkey ocsp-responder.key -issuer $L.pem -cert "$1.pem" -no_nonce \
    -ndays 3650 -respout "$1-$2.ocsp" >/dev/null
}
for n in citizen-an director-mst ecdsa-binh ecdsa384-khoa pss-cuong tsa \
         wrong-ku weak-rsa1024; do
  ocsp $n good
done
ocsp revoked-dung revoked

cat licensed-ca.pem root-ca.pem > chain-licensed.pem
cat gov-ca.pem gov-root.pem > chain-gov.pem
# DER copy served as caIssuers at $BASE/licensed-ca.crt
openssl x509 -in licensed-ca.pem -outform DER -out licensed-ca.crt

# --- Self-checks ----------------------------------------------------------------
for n in citizen-an director-mst ecdsa-binh ecdsa384-khoa pss-cuong ocsp-responder \
         tsa wrong-ku weak-rsa1024; do
  openssl verify -attime 1795348800 -CAfile root-ca.pem -untrusted licensed-ca.pem \
    "$n.pem" >/dev/null
done
openssl verify -attime 1795348800 -crl_check -CRLfile licensed-ca.crl.pem \
  -CAfile root-ca.pem -untrusted licensed-ca.pem revoked-dung.pem >/dev/null 2>&1 \
  && { echo "revoked-dung unexpectedly verifies" >&2; exit 1; }
openssl verify -attime 1795348800 -CAfile gov-root.pem -untrusted gov-ca.pem gov-agency.pem >/dev/null
openssl verify -attime 1795348800 -CAfile gov-root.pem -untrusted gov-ca.pem gov-ocsp-responder.pem >/dev/null
openssl verify -attime 1795348800 -CAfile other-root.pem other-signer.pem >/dev/null
openssl ocsp -respin revoked-dung-revoked.ocsp -resp_text -noverify | grep -q "Cert Status: revoked"
echo "test PKI written to $OUT"
