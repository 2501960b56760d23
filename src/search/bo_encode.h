/* Internal to the search module: how the model-based searchers (bo.c, bohb.c) turn a
 * point of the space into a GP input. Floats and ints become their unit coordinate
 * (log scale where log), a categorical is one-hot, an inactive conditional entry is
 * -0.5 (one-hot: all zeros), half a unit from any active value. Defined in bo.c. */
#ifndef LAMARCK_SEARCH_BO_ENCODE_H
#define LAMARCK_SEARCH_BO_ENCODE_H

#include "lamarck/space.h"

/* GP inputs of a point of sp: one per numeric hyperparameter, one per choice. */
int lm__bo_gp_dim(const lm_space *sp);

/* Encodes the point hp (repaired first, on a copy): its unit coordinates u
 * (lm_space_size entries) and GP input f (lm__bo_gp_dim entries). */
void lm__bo_encode_point(const lm_space *sp, const double *hp, double *u, double *f);

/* Snaps unit coordinates u in place to those of a valid point (from_unit, repair,
 * to_unit) and writes its GP input f. */
void lm__bo_encode_unit(const lm_space *sp, double *u, double *f);

#endif
