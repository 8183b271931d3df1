#!/bin/sh
# provenance-supports-root
# Versions of the kernel modules GPU, fabric and file-system stacks load (nvidia, amdgpu,
# mlx5_core, ib_core, lustre, ...), from /sys/module/*/version under $PROVENANCE_ROOT
# (/ on a live machine, the recorded machine's directory under --root). Prints one JSON object.
root="${PROVENANCE_ROOT:-/}"
printf '{'
separator=''
for module in nvidia nvidia_uvm nvidia_peermem amdgpu mlx5_core mlx4_core ib_core lustre lnet gdrdrv; do
    file="$root/sys/module/$module/version"
    if [ -r "$file" ]; then
        version=$(head -n 1 "$file" | tr -d '"\\\000-\037')
        printf '%s"%s":"%s"' "$separator" "$module" "$version"
        separator=','
    fi
done
printf '}\n'
