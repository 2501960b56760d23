/* Building the engine's network from a public description (graph.c). */
#ifndef LAMARCK_NN_GRAPH_H
#define LAMARCK_NN_GRAPH_H

#include "lamarck/nn.h"
#include "nn/net.h"

/* Validates d and builds its network (not finished), the classifier appended; layers
 * that do not reach the last one are left out. dropout is the rate of dropout layers
 * whose rate is negative. LM_EINVAL with the description's layer named. */
int lm__net_from_desc(const lm_net_desc *d, double dropout, lm__net **out);

/* As lm__net_from_desc; tensor_of (d->n_layers entries, may be NULL) receives the
 * engine tensor id of each description layer's output (the last engine layer built
 * for it), 0 for a layer left out because it does not reach the last one. */
int lm__net_from_desc_map(const lm_net_desc *d, double dropout, lm__net **out, int *tensor_of);

/* "conv", "sepconv", ... for an lm_op; "?" for another value. */
const char *lm__op_name(int op);

#endif
