/* ScaLAPACK behind the GP's solver interface: the covariance is scattered from root
 * to a 2-D block-cyclic layout over a BLACS grid, factored with pdpotrf, the system
 * solved with pdpotrs, and the factor and solution gathered back to root.
 *
 * ScaLAPACK has no C header: the Fortran routines are declared here, taking every
 * argument by reference and, after the last one, the hidden length of each character
 * argument (size_t with gfortran >= 8).
 *
 * Protocol: root broadcasts a command {op, n}; op FACTOR runs one factorization on
 * every rank, op RELEASE ends lm_gp_scalapack_serve. Before any ScaLAPACK call the
 * ranks agree (MPI_Allreduce) that every one of them has its buffers, so a failed
 * allocation on one rank is an error on all of them rather than a hang.
 *
 * Waiting. Serving ranks spend most of their time waiting for root's next command
 * (while root builds the covariance, fits hyperparameters, or the controller does
 * something else entirely). Open MPI's blocking collectives busy-poll, which on a node
 * shared with training ranks, or with root itself, steals their cores; so that wait is
 * a nonblocking broadcast tested with sleeps of exponentially growing length (20 us to
 * 2 ms) in between. Once a command has come, the data moves with blocking collectives:
 * without an asynchronous progress thread a sleeping rank would stall a large
 * pipelined transfer. */
#include "lamarck/error.h"
#include "surrogate/scalapack.h"
#include "lamarck/timer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- ScaLAPACK and BLACS (no header) ---- */
extern void Cblacs_pinfo(int *mypnum, int *nprocs);
extern int Csys2blacs_handle(MPI_Comm comm);
extern void Cfree_blacs_system_handle(int handle);
extern void Cblacs_gridinit(int *ictxt, char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int ictxt, int *nprow, int *npcol, int *myrow, int *mycol);
extern void Cblacs_gridexit(int ictxt);
extern int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc,
                   const int *nprocs);
extern void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
                      const int *irsrc, const int *icsrc, const int *ictxt, const int *lld,
                      int *info);
extern void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja,
                     const int *desca, int *info, size_t uplo_len);
extern void pdpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a,
                     const int *ia, const int *ja, const int *desca, double *b, const int *ib,
                     const int *jb, const int *descb, int *info, size_t uplo_len);

enum { OP_RELEASE = 0, OP_FACTOR = 1 };
#define BACKOFF_MIN 20e-6
#define BACKOFF_MAX 2e-3
#define N_MAX 32768   /* n^2 must fit the int counts of MPI_Scatterv */

struct lm_gp_scalapack {
    MPI_Comm comm;
    int rank, size, root;
    int nb;
    int sys_handle, ictxt;
    int nprow, npcol, myrow, mycol;
    int *coords;        /* root: (row, column) of every rank */
    double times[4];
};

#define MPI_OK(call)                                                                  \
    do {                                                                              \
        int mpi_rc_ = (call);                                                         \
        if (mpi_rc_ != MPI_SUCCESS) LM_FAIL(LM_EMPI, "%s failed (MPI error %d)", #call, mpi_rc_); \
    } while (0)

int lm_gp_scalapack_create(MPI_Comm comm, int root, int nb, lm_gp_scalapack **out) {
    LM_CHECK(out, LM_EINVAL, "lm_gp_scalapack_create: NULL output");
    *out = NULL;
    int rank, size;
    MPI_OK(MPI_Comm_rank(comm, &rank));
    MPI_OK(MPI_Comm_size(comm, &size));
    LM_CHECK(root >= 0 && root < size, LM_EINVAL,
             "lm_gp_scalapack_create: root %d outside the communicator's %d ranks", root, size);
    LM_CHECK(nb >= 0 && nb <= 4096, LM_EINVAL, "lm_gp_scalapack_create: block size %d", nb);
    lm_gp_scalapack *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    s->rank = rank;
    s->size = size;
    s->root = root;
    s->nb = nb ? nb : 64;
    s->coords = malloc(2 * (size_t)size * sizeof *s->coords);
    if (!s->coords) {
        free(s);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    if (MPI_Comm_dup(comm, &s->comm) != MPI_SUCCESS) {
        free(s->coords);
        free(s);
        LM_FAIL(LM_EMPI, "MPI_Comm_dup failed");
    }
    /* The squarest grid: rows the largest divisor of size not above sqrt(size). */
    int nprow = 1;
    for (int r = 1; r * r <= size; r++)
        if (size % r == 0) nprow = r;
    int me, np;
    Cblacs_pinfo(&me, &np); /* makes BLACS ready on an MPI that is already initialized */
    s->sys_handle = Csys2blacs_handle(s->comm);
    s->ictxt = s->sys_handle;
    char order[] = "Row";
    Cblacs_gridinit(&s->ictxt, order, nprow, size / nprow);
    Cblacs_gridinfo(s->ictxt, &s->nprow, &s->npcol, &s->myrow, &s->mycol);
    int mine[2] = {s->myrow, s->mycol};
    int rc = MPI_Gather(mine, 2, MPI_INT, s->coords, 2, MPI_INT, root, s->comm);
    if (rc != MPI_SUCCESS || s->myrow < 0 || s->nprow * s->npcol != size) {
        lm_gp_scalapack_destroy(&s);
        LM_FAIL(LM_EMPI, "BLACS could not make a %d x %d grid of %d ranks", nprow, size / nprow,
                size);
    }
    *out = s;
    return LM_OK;
}

void lm_gp_scalapack_destroy(lm_gp_scalapack **s) {
    if (!s || !*s) return;
    if ((*s)->myrow >= 0 && (*s)->nprow > 0) Cblacs_gridexit((*s)->ictxt);
    Cfree_blacs_system_handle((*s)->sys_handle);
    MPI_Comm_free(&(*s)->comm);
    free((*s)->coords);
    free(*s);
    *s = NULL;
}

void lm_gp_scalapack_grid(const lm_gp_scalapack *s, int *nprow, int *npcol) {
    *nprow = s->nprow;
    *npcol = s->npcol;
}

void lm_gp_scalapack_times(const lm_gp_scalapack *s, double t[4]) {
    memcpy(t, s->times, sizeof s->times);
}

/* MPI_Wait that sleeps between tests (see Waiting above). */
static int wait_gently(MPI_Request *req) {
    double delay = BACKOFF_MIN;
    for (;;) {
        int done = 0;
        if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return LM_EMPI;
        if (done) return LM_OK;
        lm_time_sleep(delay);
        delay = delay * 2 < BACKOFF_MAX ? delay * 2 : BACKOFF_MAX;
    }
}

/* ---- block-cyclic layout ---- */

/* Global index of local index l along a dimension split in blocks of nb over np
 * processes, for process p (the first block on process 0). */
static long l2g(int l, int nb, int p, int np) {
    return (long)(l / nb) * nb * np + (long)p * nb + l % nb;
}

static int local_rows(int n, int nb, int p, int np) {
    int zero = 0;
    return numroc_(&n, &nb, &p, &zero, &np);
}

/* Root: the per-rank counts and offsets of A's (n x n) and b's (n x 1) local parts. */
static void layout(const lm_gp_scalapack *s, int n, int *ca, int *da, int *cb, int *db) {
    int one = 1, at = 0, atb = 0;
    for (int p = 0; p < s->size; p++) {
        int pr = s->coords[2 * p], pc = s->coords[2 * p + 1];
        int m = local_rows(n, s->nb, pr, s->nprow), c = local_rows(n, s->nb, pc, s->npcol);
        ca[p] = m * c;
        da[p] = at;
        at += ca[p];
        cb[p] = m * local_rows(one, s->nb, pc, s->npcol);
        db[p] = atb;
        atb += cb[p];
    }
}

/* Root: copies the lower triangle of A (zeros above) and b into every rank's local
 * column-major layout (pack = 1), or back from it (pack = 0: L's lower triangle and
 * the solution). */
static void pack_all(const lm_gp_scalapack *s, int n, double *A, double *b, double *bufA,
                     double *bufB, const int *da, const int *db, long *rows, int pack) {
    for (int p = 0; p < s->size; p++) {
        int pr = s->coords[2 * p], pc = s->coords[2 * p + 1];
        int m = local_rows(n, s->nb, pr, s->nprow), c = local_rows(n, s->nb, pc, s->npcol);
        for (int li = 0; li < m; li++) rows[li] = l2g(li, s->nb, pr, s->nprow);
        double *la = bufA + da[p];
        for (int lj = 0; lj < c; lj++) {
            long j = l2g(lj, s->nb, pc, s->npcol);
            double *loc = la + (size_t)lj * m;
            const double *col = A + (size_t)j * n;
            if (pack)
                for (int li = 0; li < m; li++) loc[li] = rows[li] >= j ? col[rows[li]] : 0.0;
            else
                for (int li = 0; li < m; li++)
                    if (rows[li] >= j) A[(size_t)j * n + rows[li]] = loc[li];
        }
        if (pc != 0) continue; /* b's single column lives on grid column 0 */
        double *lb = bufB + db[p];
        for (int li = 0; li < m; li++) {
            if (pack) lb[li] = b[rows[li]];
            else b[rows[li]] = lb[li];
        }
    }
}

/* One factorization, on every rank. On root A (n x n) and b (n) are the input and
 * the output; elsewhere they are NULL. */
static int factor_all(lm_gp_scalapack *s, int n, double *A, double *b, int *info_out) {
    int is_root = s->rank == s->root;
    int nb = s->nb, one = 1, zero = 0;
    int m = local_rows(n, nb, s->myrow, s->nprow), c = local_rows(n, nb, s->mycol, s->npcol);
    int cb = local_rows(one, nb, s->mycol, s->npcol);
    int lld = m > 1 ? m : 1;
    double *la = malloc(((size_t)m * c + 1) * sizeof *la);
    double *lb = malloc(((size_t)m * cb + 1) * sizeof *lb);
    int *ca = NULL, *da = NULL, *cbv = NULL, *dbv = NULL;
    double *bufA = NULL, *bufB = NULL;
    long *rows = NULL;
    if (is_root) {
        ca = malloc(4 * (size_t)s->size * sizeof *ca);
        bufA = malloc(((size_t)n * n + 1) * sizeof *bufA);
        bufB = malloc(((size_t)n + 1) * sizeof *bufB);
        rows = malloc(((size_t)n + 1) * sizeof *rows);
        if (ca) {
            da = ca + s->size;
            cbv = ca + 2 * s->size;
            dbv = ca + 3 * s->size;
        }
    }
    int ok = la && lb && (!is_root || (ca && bufA && bufB && rows)), all_ok = 0;
    int rc = LM_OK;
    if (MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, s->comm) != MPI_SUCCESS) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EMPI, "MPI_Allreduce failed");
        goto out;
    }
    if (!all_ok) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM,
                          "out of memory on %s for a distributed %d x %d GP covariance",
                          ok ? "another rank" : "this rank", n, n);
        goto out;
    }
    double t0 = MPI_Wtime();
    if (is_root) {
        layout(s, n, ca, da, cbv, dbv);
        pack_all(s, n, A, b, bufA, bufB, da, dbv, rows, 1);
    }
    if (MPI_Scatterv(bufA, ca, da, MPI_DOUBLE, la, m * c, MPI_DOUBLE, s->root, s->comm) !=
            MPI_SUCCESS ||
        MPI_Scatterv(bufB, cbv, dbv, MPI_DOUBLE, lb, m * cb, MPI_DOUBLE, s->root, s->comm) !=
            MPI_SUCCESS) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EMPI, "MPI_Scatterv failed");
        goto out;
    }
    double t1 = MPI_Wtime();
    int descA[9], descB[9], info;
    descinit_(descA, &n, &n, &nb, &nb, &zero, &zero, &s->ictxt, &lld, &info);
    int info2 = 0;
    descinit_(descB, &n, &one, &nb, &nb, &zero, &zero, &s->ictxt, &lld, &info2);
    if (info || info2) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EINTERNAL,
                          "descinit: argument %d is invalid", info ? -info : -info2);
        goto out;
    }
    pdpotrf_("L", &n, la, &one, &one, descA, &info, 1);
    /* Agree on the outcome: the largest positive info (not positive definite), or an
     * argument error anywhere. */
    int mine[2] = {info > 0 ? info : 0, info < 0 ? -info : 0}, all[2];
    if (MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, s->comm) != MPI_SUCCESS) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EMPI, "MPI_Allreduce failed");
        goto out;
    }
    double t2 = MPI_Wtime(), t3 = t2;
    if (all[1]) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EINTERNAL,
                          "pdpotrf: argument %d is invalid", all[1]);
        goto out;
    }
    *info_out = all[0];
    if (all[0] > 0) goto out; /* not positive definite: the GP adds jitter and retries */
    pdpotrs_("L", &n, &one, la, &one, &one, descA, lb, &one, &one, descB, &info, 1);
    if (info) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EINTERNAL,
                          "pdpotrs: argument %d is invalid", -info);
        goto out;
    }
    t3 = MPI_Wtime();
    if (MPI_Gatherv(la, m * c, MPI_DOUBLE, bufA, ca, da, MPI_DOUBLE, s->root, s->comm) !=
            MPI_SUCCESS ||
        MPI_Gatherv(lb, m * cb, MPI_DOUBLE, bufB, cbv, dbv, MPI_DOUBLE, s->root, s->comm) !=
            MPI_SUCCESS) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EMPI, "MPI_Gatherv failed");
        goto out;
    }
    if (is_root) pack_all(s, n, A, b, bufA, bufB, da, dbv, rows, 0);
    s->times[0] = t1 - t0;
    s->times[1] = t2 - t1;
    s->times[2] = t3 - t2;
    s->times[3] = MPI_Wtime() - t3;
out:
    free(la);
    free(lb);
    free(ca);
    free(bufA);
    free(bufB);
    free(rows);
    return rc;
}

/* The lm_gp_solver entry on root. */
static int root_factor_solve(void *ctx, int n, double *A, double *b, int *info) {
    lm_gp_scalapack *s = ctx;
    LM_CHECK(s->rank == s->root, LM_EINVAL,
             "the ScaLAPACK GP solver was called on rank %d, but its root is rank %d", s->rank,
             s->root);
    LM_CHECK(n >= 1 && n <= N_MAX, LM_ERANGE,
             "the ScaLAPACK GP solver handles 1 to %d points, asked for %d", N_MAX, n);
    *info = 0;
    int cmd[2] = {OP_FACTOR, n};
    MPI_Request req;
    MPI_OK(MPI_Ibcast(cmd, 2, MPI_INT, s->root, s->comm, &req));
    MPI_OK(MPI_Wait(&req, MPI_STATUS_IGNORE));
    LM_CALL(factor_all(s, n, A, b, info));
    return LM_OK;
}

lm_gp_solver lm_gp_scalapack_solver(lm_gp_scalapack *s) {
    lm_gp_solver solver = {s, root_factor_solve};
    return solver;
}

int lm_gp_scalapack_serve(lm_gp_scalapack *s) {
    LM_CHECK(s->rank != s->root, LM_EINVAL, "lm_gp_scalapack_serve: called on root");
    for (;;) {
        int cmd[2];
        MPI_Request req;
        MPI_OK(MPI_Ibcast(cmd, 2, MPI_INT, s->root, s->comm, &req));
        LM_CHECK(wait_gently(&req) == LM_OK, LM_EMPI, "waiting for the GP root's command failed");
        if (cmd[0] == OP_RELEASE) return LM_OK;
        LM_CHECK(cmd[0] == OP_FACTOR && cmd[1] >= 1 && cmd[1] <= N_MAX, LM_EMPI,
                 "ScaLAPACK GP solver: unknown command {%d, %d} from root", cmd[0], cmd[1]);
        int info = 0;
        LM_CALL(factor_all(s, cmd[1], NULL, NULL, &info));
    }
}

int lm_gp_scalapack_release(lm_gp_scalapack *s) {
    LM_CHECK(s->rank == s->root, LM_EINVAL, "lm_gp_scalapack_release: called on rank %d, not root",
             s->rank);
    int cmd[2] = {OP_RELEASE, 0};
    MPI_Request req;
    MPI_OK(MPI_Ibcast(cmd, 2, MPI_INT, s->root, s->comm, &req));
    MPI_OK(MPI_Wait(&req, MPI_STATUS_IGNORE));
    return LM_OK;
}
