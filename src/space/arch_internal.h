/* Shared by the architecture families of the space module: the node-list builder
 * used by decoding, the chain genome's layout and the layer names. */
#ifndef LAMARCK_SPACE_ARCH_INTERNAL_H
#define LAMARCK_SPACE_ARCH_INTERNAL_H

#include "lamarck/arch.h"

/* Appends nodes to a network being decoded; net->nodes grows by doubling. */
typedef struct {
    lm_arch_net *net;
    int cap;
} lm__arch_builder;

/* Appends one node reading in[0..n_in) with a square kernel k (0 for none). The
 * output shape follows the kind: spatial size ceil(in/stride) of in[0] ("same"
 * padding), channels c (0: in[0]'s), concat sums channels, global pooling and dense
 * give 1x1. */
int lm__arch_node(lm__arch_builder *bd, lm_arch_node_kind kind, const int *in, int n_in, int c,
                  int k, int stride, int dilation, int *id);

/* Starts a network with its input node (id 0) of the space's sample shape. */
int lm__arch_begin(lm__arch_builder *bd, const lm_arch_space *as, lm_arch_net *out);

/* Appends the head (global average pooling unless flat, then a dense classifier)
 * after node last and fills params and flops. */
int lm__arch_finish(lm__arch_builder *bd, const lm_arch_space *as, int last, int flat);

/* LM_EINVAL unless the sample shape and class count are set. */
int lm__arch_need_shape(const lm_arch_space *as);

/* Offsets of a chain slot's genes within the slot (-1 when absent) and the slot
 * length; slot i starts at 1 + i * per_slot (gene 0 is the depth). */
typedef struct {
    int per_slot, type, kernel, width, stride, skip;
} lm__chain_layout;

void lm__arch_chain_layout(const lm_arch_space *as, lm__chain_layout *lo);

/* The allowed layer types in enum order; returns their number. */
int lm__arch_chain_types(const lm_arch_space *as, lm_arch_layer_type *out);

/* "conv", "sep_conv", "dil_conv", "max_pool", "avg_pool", "dense", "identity". */
const char *lm__arch_layer_name(lm_arch_layer_type t);

#endif
