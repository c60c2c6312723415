#!/usr/bin/env bash
# Builds out/webgpu-bench/: the WebGPU block-runtime bench for a GPU machine with no Node, browser or registry,
# in at most 64 MiB: run.sh + payload.tar.xz (a Node binary, onnxruntime-web's WebGPU build, Dawn's `webgpu`
# package for linux-x64, a Vulkan loader as a fallback, and the bench bundled into one file).
# Usage: tools/bench/webgpu/pack.sh [path to a webgpu package folder]   (default: npm pack webgpu@$WEBGPU_VERSION)
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
WEBGPU_VERSION=${WEBGPU_VERSION:-0.6.2}
out=$root/out/webgpu-bench
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
rm -rf "$out"
mkdir -p "$out" "$stage/node_modules/onnxruntime-web/dist" "$stage/node_modules/webgpu/dist/linux-x64" "$stage/lib"

# 1. The bench and the runtime it uses, bundled; onnxruntime-web and webgpu stay packages beside it.
npx esbuild tools/bench/webgpu/webgpu-bench.ts --bundle --platform=node --format=esm --target=node20 \
  --external:onnxruntime-web --external:webgpu --log-level=warning --outfile="$stage/bench.mjs"

# 2. One onnxruntime-web build: the WebGPU bundle and its wasm (the asyncify build, which also runs the wasm EP).
ort=node_modules/onnxruntime-web
cp "$ort/package.json" "$stage/$ort/"
cp "$ort/dist/ort.webgpu.bundle.min.mjs" "$ort/dist/ort-wasm-simd-threaded.asyncify.wasm" "$ort/dist/ort-wasm-simd-threaded.asyncify.mjs" "$stage/$ort/dist/"

# 3. Dawn for Node (linux-x64 only).
wg=${1:-}
if [ -z "$wg" ]; then
  (cd "$stage" && npm pack --silent "webgpu@$WEBGPU_VERSION" >/dev/null && tar xzf "webgpu-$WEBGPU_VERSION.tgz" && rm "webgpu-$WEBGPU_VERSION.tgz")
  wg=$stage/package
fi
cp "$wg/package.json" "$wg/index.js" "$stage/node_modules/webgpu/"
cp "$wg/dist/linux-x64/dawn.node" "$stage/node_modules/webgpu/dist/linux-x64/"
rm -rf "$stage/package"

# 4. Node itself, and the Vulkan loader for machines that have a driver but no loader.
cp "$(command -v node)" "$stage/node"
vk=$(ldconfig -p | awk '/libvulkan\.so\.1 /{print $NF; exit}')
if [ -n "$vk" ]; then cp "$(readlink -f "$vk")" "$stage/lib/libvulkan.so.1"; fi

tar -C "$stage" -cf - . | xz -9e -T0 > "$out/payload.tar.xz"
cat > "$out/run.sh" <<'RUN'
#!/bin/sh
# Unpacks the payload into a temp folder and runs the WebGPU bench; exit 1 if WebGPU disagrees with wasm.
# Env: BOUQUET_SHAPES=Llama-3.2-1B,Llama-3-8B  BOUQUET_DECODE_STEPS=32  BOUQUET_DAWN_FLAGS=backend=vulkan,...
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=${TMPDIR:-/tmp}/bouquet-webgpu-bench.$$
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
if command -v xz >/dev/null 2>&1; then xz -dc "$here/payload.tar.xz" | tar -x -C "$work"
else python3 -c 'import lzma,sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())' "$here/payload.tar.xz" | tar -x -C "$work"; fi
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work}
cd "$work"
./node bench.mjs "$@"
RUN
chmod +x "$out/run.sh"
size=$(du -cb "$out"/* | tail -1 | cut -f1)
echo "out/webgpu-bench: $(du -sh "$out" | cut -f1) ($size bytes; limit 67108864)"
[ "$size" -le 67108864 ] || { echo "over 64 MiB" >&2; exit 1; }
