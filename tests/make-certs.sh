#!/bin/bash
# make-certs.sh OUTDIR STAMPFILE
#
# Makes the certificates the TLS tests use, with dates relative to now:
#   ca.pem ca-key.pem                 the test CA "SMTP Doctor Test CA"
#   good.pem good-key.pem             localhost, 127.0.0.1, ::1; from yesterday for a year
#   expired.pem expired-key.pem       validity ended yesterday
#   notyet.pem notyet-key.pem         valid from 10 days from now
#   wronghost.pem wronghost-key.pem   SAN DNS:wrong.example.net only
#   soon.pem soon-key.pem             expires in 3 days
#   selfsigned.pem selfsigned-key.pem self-signed, localhost / 127.0.0.1
#   other-ca.pem other-ca-key.pem     a second CA the tests never trust
#   other.pem other-key.pem           localhost leaf signed by the other CA
#   LEAF-chain.pem                    leaf followed by its CA, for each CA-signed leaf
# Then touches STAMPFILE. EC P-256 keys; everything is made anew at every run.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 OUTDIR STAMPFILE" >&2
    exit 2
fi

outdir=$1
stamp=$2
openssl=${OPENSSL:-openssl}

mkdir -p "$outdir"
work=$(mktemp -d "${outdir%/}/.make-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT

# UTCTime (YYMMDDHHMMSSZ) for "now + OFFSET", e.g. "-1 day", "+10 days".
when() {
    date -u -d "$1" +%y%m%d%H%M%SZ
}

key() {
    "$openssl" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -pkeyopt ec_param_enc:named_curve -out "$work/$1-key.pem" 2>/dev/null
}

# make_ca NAME CN
make_ca() {
    key "$1"
    "$openssl" req -new -x509 -key "$work/$1-key.pem" -out "$work/$1.pem" \
        -subj "/O=SMTP Doctor Tests/CN=$2" -days 3650 -sha256 \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>/dev/null
    mkdir -p "$work/db-$1"
    : >"$work/db-$1/index.txt"
    cat >"$work/db-$1/ca.cnf" <<EOF
[ca]
default_ca = test_ca

[test_ca]
dir = $work/db-$1
database = \$dir/index.txt
new_certs_dir = \$dir
certificate = $work/$1.pem
private_key = $work/$1-key.pem
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
rand_serial = yes
preserve = yes

[policy_any]
organizationName = optional
commonName = supplied
EOF
}

# make_leaf CA NAME CN SAN START END
make_leaf() {
    local ca=$1 name=$2 cn=$3 san=$4 start=$5 end=$6
    key "$name"
    "$openssl" req -new -key "$work/$name-key.pem" -out "$work/$name.csr" \
        -subj "/O=SMTP Doctor Tests/CN=$cn" 2>/dev/null
    cat >"$work/$name.ext" <<EOF
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $san
EOF
    "$openssl" ca -batch -notext -config "$work/db-$ca/ca.cnf" \
        -in "$work/$name.csr" -out "$work/$name.pem" \
        -startdate "$(when "$start")" -enddate "$(when "$end")" \
        -extfile "$work/$name.ext" -extensions leaf 2>"$work/$name.log" || {
        cat "$work/$name.log" >&2
        exit 1
    }
    cat "$work/$name.pem" "$work/$ca.pem" >"$work/$name-chain.pem"
}

local_san="DNS:localhost,IP:127.0.0.1,IP:::1"

make_ca ca "SMTP Doctor Test CA"
make_ca other-ca "SMTP Doctor Other CA"

make_leaf ca good localhost "$local_san" "-1 day" "+365 days"
make_leaf ca expired localhost "$local_san" "-30 days" "-1 day"
make_leaf ca notyet localhost "$local_san" "+10 days" "+375 days"
make_leaf ca wronghost wrong.example.net "DNS:wrong.example.net" "-1 day" "+365 days"
make_leaf ca soon localhost "$local_san" "-1 day" "+3 days"
make_leaf other-ca other localhost "$local_san" "-1 day" "+365 days"

key selfsigned
"$openssl" req -new -x509 -key "$work/selfsigned-key.pem" -out "$work/selfsigned.pem" \
    -subj "/O=SMTP Doctor Tests/CN=localhost" -days 365 -sha256 \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

chmod 644 "$work"/*.pem
for f in "$work"/*.pem; do
    mv -f "$f" "$outdir/"
done

touch "$stamp"
