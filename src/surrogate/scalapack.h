/* The GP's distributed Cholesky solver: ScaLAPACK (pdpotrf, pdpotrs) on a BLACS grid
 * over the ranks of an MPI communicator, the "dedicated surrogate ranks".
 *
 * The GP stays on one rank (root) and stays MPI-free: root hands it the solver from
 * lm_gp_scalapack_solver() (lm_gp_set_solver), and every other rank of the
 * communicator sits in lm_gp_scalapack_serve() until root releases it:
 *
 *     lm_gp_scalapack *s;
 *     lm_gp_scalapack_create(comm, 0, 0, &s);                  // collective
 *     if (rank == 0) {
 *         lm_gp_solver solver = lm_gp_scalapack_solver(s);
 *         lm_gp_set_solver(gp, &solver);                       // used from solver_min_n points
 *         ... lm_gp_set_data / lm_gp_fit / lm_gp_condition ...
 *         lm_gp_scalapack_release(s);
 *     } else {
 *         lm_gp_scalapack_serve(s);                            // returns on release
 *     }
 *     lm_gp_scalapack_destroy(&s);                             // collective
 *
 * Each factorization scatters the lower triangle of the covariance block-cyclically
 * from root, factors and solves on the grid, and gathers the Cholesky factor and the
 * solution back to root, where predictions then need only triangular solves.
 * Only this header and src/surrogate/gp_scalapack.c include mpi.h in the surrogate
 * module. */
#ifndef LAMARCK_SURROGATE_MPI_H
#define LAMARCK_SURROGATE_MPI_H

#include "lamarck/surrogate.h"

#include <mpi.h>

typedef struct lm_gp_scalapack lm_gp_scalapack;

/* Collective over comm: a process grid of all its ranks, as square as the count
 * allows (4 ranks: 2 x 2), blocks of nb x nb (0: 64). root is the rank that will hold
 * the GP. LM_EMPI when MPI or BLACS fails, LM_EINVAL for a bad root or nb. */
int lm_gp_scalapack_create(MPI_Comm comm, int root, int nb, lm_gp_scalapack **out);
/* Collective: frees the grid (after release/serve). Accepts NULL. */
void lm_gp_scalapack_destroy(lm_gp_scalapack **s);
/* On root: the solver to hand to lm_gp_set_solver (valid until destroy). */
lm_gp_solver lm_gp_scalapack_solver(lm_gp_scalapack *s);
/* On every rank but root: takes part in root's factorizations until root calls
 * lm_gp_scalapack_release. Returns LM_OK then, or the error of a failed step (after
 * which root's call fails too, so no rank is left waiting). */
int lm_gp_scalapack_serve(lm_gp_scalapack *s);
/* On root: lets the serving ranks return from lm_gp_scalapack_serve. */
int lm_gp_scalapack_release(lm_gp_scalapack *s);
/* Grid shape (rows, columns) of the solver. */
void lm_gp_scalapack_grid(const lm_gp_scalapack *s, int *nprow, int *npcol);
/* Seconds spent by the last factorization on root: [0] scattering the matrix, [1]
 * pdpotrf, [2] pdpotrs, [3] gathering the factor and solution. */
void lm_gp_scalapack_times(const lm_gp_scalapack *s, double t[4]);

#endif
