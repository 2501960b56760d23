# The GP's ScaLAPACK solver on 4 ranks (2 x 2 grid) against LAPACK on rank 0, N = 1500:
# posterior mean and variance at 200 points and the log marginal likelihood agree to
# 1e-8, and on a singular covariance both add the same jitter (the program prints the
# differences and PASS or FAIL).
set -euo pipefail
: "${LAMARCK_BINARY_DIR:?run through ctest (LAMARCK_BINARY_DIR unset)}"
MPIEXEC=${MPIEXEC:-mpiexec}
bench="$LAMARCK_BINARY_DIR/tests/bench_surrogate_scalapack"
[ -x "$bench" ] || { echo "FAIL: $bench not built" >&2; exit 1; }
rc=0
out=$("$MPIEXEC" -n 4 --oversubscribe "$bench" compare 1500 2>&1) || rc=$?
[ "$rc" = 0 ] || { echo "$out"; echo "FAIL: gp_scalapack (exit status $rc)" >&2; exit 1; }
echo "$out"
grep -q "^PASS" <<<"$out" || { echo "FAIL: gp_scalapack: no PASS line" >&2; exit 1; }
grep -q "grid 2 x 2" <<<"$out" || { echo "FAIL: gp_scalapack: expected a 2 x 2 grid" >&2; exit 1; }
echo "PASS: gp_scalapack"
