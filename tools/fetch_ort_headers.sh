#!/usr/bin/env bash
# Fetch the ONNX Runtime 1.21 C/C++ headers from Debian's libonnxruntime-dev (trixie) into
# third_party/ort, without touching the system's apt configuration: a private sources list,
# private state and cache folders, `apt-get download`, then `dpkg -x`. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/third_party/ort"
if [[ -f "$dest/include/onnxruntime_c_api.h" ]]; then
  echo "ORT headers: $dest/include (cached)"; exit 0
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc/sources.list.d" "$work/etc/preferences.d"
cat > "$work/etc/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
SRC
opts=(-o "Dir::Etc::SourceList=$work/etc/sources.list" -o "Dir::Etc::SourceParts=$work/etc/sources.list.d"
      -o "Dir::Etc::Preferences=$work/etc/preferences" -o "Dir::Etc::PreferencesParts=$work/etc/preferences.d"
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Architecture=amd64"
      -o "Debug::NoLocking=1")
apt-get "${opts[@]}" -qq update
(cd "$work" && apt-get "${opts[@]}" -qq download libonnxruntime-dev)
mkdir -p "$work/x"
dpkg -x "$work"/libonnxruntime-dev_*.deb "$work/x"
inc="$(dirname "$(find "$work/x" -name onnxruntime_c_api.h | head -1)")"
[[ -f "$inc/onnxruntime_c_api.h" ]] || { echo "error: onnxruntime_c_api.h not found in the .deb" >&2; exit 1; }
mkdir -p "$dest"; rm -rf "$dest/include"; cp -r "$inc" "$dest/include"
grep -m1 -o 'ORT_API_VERSION [0-9]*' "$dest/include/onnxruntime_c_api.h" || true
echo "ORT headers: $dest/include"
