/* Building the engine's network from a public description (graph.c). */
#ifndef LAMARCK_NN_GRAPH_H
#define LAMARCK_NN_GRAPH_H

#include "lamarck/nn.h"
#include "nn/net.h"

/* Validates d and builds its network (not finished), the classifier appended; layers
 * that do not reach the last one are left out. dropout is the rate of dropout layers
 * whose rate is negative. LM_EINVAL with the description's layer named. */
int lm__net_from_desc(const lm_net_desc *d, double dropout, lm__net **out);

/* "conv", "sepconv", ... for an lm_op; "?" for another value. */
const char *lm__op_name(int op);

#endif
