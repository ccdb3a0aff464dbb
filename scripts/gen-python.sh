#!/usr/bin/env bash
# Generates a Python client (messages + gRPC stubs) for every proto under proto/ into OUTDIR,
# with Debian's protoc and grpc_python_plugin:
#
#   apt-get install -y python3-grpcio protobuf-compiler protobuf-compiler-grpc
#   bash scripts/gen-python.sh OUTDIR
#   PYTHONPATH=OUTDIR /usr/bin/python3 -c 'from dkv.v1 import kv_pb2, kv_pb2_grpc'
#
# Run the client with /usr/bin/python3: Debian's grpc and protobuf modules live in its
# dist-packages, which a python3 from pyenv or a venv does not see. The output uses implicit
# namespace packages (dkv/, dkv/v1/, ...), so no __init__.py is needed.
#
# PROTOC and GRPC_PYTHON_PLUGIN override the tools' paths.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."

PROTOC=${PROTOC:-$(command -v protoc || true)}
PLUGIN=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}
if [[ -z "$PROTOC" || ! -f "$PROTOC" || ! -x "$PROTOC" ]]; then
  echo "gen-python: protoc not found: install Debian's protobuf-compiler (apt-get install -y protobuf-compiler)" >&2
  exit 3
fi
if [[ ! -f "$PLUGIN" || ! -x "$PLUGIN" ]]; then
  echo "gen-python: $PLUGIN not found: install Debian's protobuf-compiler-grpc (apt-get install -y protobuf-compiler-grpc)" >&2
  exit 3
fi

# Every proto, so that each file's imports are generated too (internode.proto imports
# record.proto and kv.proto; kv.proto and admin.proto import nothing).
mapfile -t files < <(cd proto && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
if [[ ${#files[@]} -eq 0 ]]; then
  echo "gen-python: no .proto files under proto/" >&2
  exit 3
fi

"$PROTOC" -I proto \
  --python_out="$out" \
  --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$PLUGIN" \
  "${files[@]}"

echo "gen-python: $("$PROTOC" --version) generated $(find "$out" -name '*_pb2*.py' | wc -l) files from ${#files[@]} protos into $out"
