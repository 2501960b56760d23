/* Internals shared by the files of the space module (space.c, grid.c). */
#ifndef LAMARCK_SPACE_INTERNAL_H
#define LAMARCK_SPACE_INTERNAL_H

#include "lamarck/space.h"

/* Most points one hyperparameter may put on a grid. */
#define LM__HP_GRID_MAX 10000

struct lm_space {
    int n;
    lm_hp hp[LM_HP_MAX];
    double *grid[LM_HP_MAX]; /* grid values of each hyperparameter, increasing */
    int n_grid[LM_HP_MAX];
};

/* Whether value v of a parent satisfies hp's condition (v is rounded: the parents
 * that conditions accept, int and categorical, take whole values). */
int lm__space_when_match(const lm_hp *h, double v);

/* Recomputes sp->grid[i] from the bounds and grid_points of hyperparameter i. */
int lm__space_grid_values(lm_space *sp, int i);

#endif
