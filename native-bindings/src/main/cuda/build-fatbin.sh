#!/usr/bin/env bash
# Builds the CUDA kernels of this folder into one fatbin, run by Maven (generate-resources) as
#   build-fatbin.sh OUTPUT_FILE
# Output: SASS for sm_80 and sm_90 plus compute_80 PTX, uncompressed (so a test can read the kernel
# names without cuobjdump). Without nvcc it builds nothing and exits 0: the CUDA backend then says
# "kernels not built: nvcc was not found at build time".
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build-fatbin.sh OUTPUT_FILE}

find_nvcc() {
  local candidate
  if command -v nvcc >/dev/null 2>&1; then
    command -v nvcc
    return 0
  fi
  for candidate in "${CUDA_HOME:-}/bin/nvcc" "${CUDA_PATH:-}/bin/nvcc" /usr/local/cuda/bin/nvcc \
      $(ls -d /usr/local/cuda-*/bin/nvcc 2>/dev/null | sort -V -r); do
    if [ -x "$candidate" ]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

if ! nvcc=$(find_nvcc); then
  echo "build-fatbin: nvcc not found (PATH, CUDA_HOME, /usr/local/cuda*): CUDA kernels not built"
  rm -f "$out"
  exit 0
fi

# Up to date: nothing in this folder is newer than the fatbin.
if [ -f "$out" ] && [ -z "$(find "$src" -newer "$out" -print -quit)" ]; then
  exit 0
fi

work=$(dirname "$out")/.fatbin-build
mkdir -p "$work" "$(dirname "$out")"
unit="$work/kernels.cu"
: > "$unit"
for f in "$src"/*.cu; do
  printf '#include "%s"\n' "$f" >> "$unit"
done

"$nvcc" -fatbin --no-compress -O3 -fmad=false -I"$src" \
  -gencode arch=compute_80,code=sm_80 \
  -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_80,code=compute_80 \
  -o "$work/kernels.fatbin" "$unit"
mv -f "$work/kernels.fatbin" "$out"
rm -rf "$work"
echo "build-fatbin: $(basename "$out") ($(wc -c < "$out") bytes) by $nvcc"
