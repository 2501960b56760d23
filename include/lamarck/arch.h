/* Cell-based (NASNet) architecture space: genome, decoding, variation, hashing.
 *
 * Zoph et al. 2018. A cell has B blocks; block b adds op1(in1) and op2(in2), each
 * input chosen among h_{i-1} (index 0), h_{i-2} (index 1) and the outputs of blocks
 * 0..b-1 (index 2 + j). Blocks whose output no block reads are concatenated as the
 * cell output. The genome is an int32 vector of 8*B values: the normal cell's blocks
 * then the reduction cell's, each as (in1, op1, in2, op2).
 *
 * The decoded network is a plain node list (lm_arch_net), independent of the nn
 * engine; translating it into lm_net_desc is done elsewhere. Node 0 is the input;
 * every node reads only earlier nodes; the last node is the classifier.
 */
#ifndef LAMARCK_ARCH_H
#define LAMARCK_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "lamarck/rng.h"

#define LM_ARCH_CELL_MAX_BLOCKS 16
#define LM_ARCH_CELL_N_OPS 8
#define LM_ARCH_MAX_INPUTS LM_ARCH_CELL_MAX_BLOCKS

/* Operations a block may apply to one of its inputs. */
typedef enum {
    LM_ARCH_OP_IDENTITY = 0,
    LM_ARCH_OP_SEP3,     /* separable conv 3x3 */
    LM_ARCH_OP_SEP5,     /* separable conv 5x5 */
    LM_ARCH_OP_SEP7,     /* separable conv 7x7 */
    LM_ARCH_OP_AVG3,     /* average pool 3x3 */
    LM_ARCH_OP_MAX3,     /* max pool 3x3 */
    LM_ARCH_OP_DIL3,     /* dilated conv 3x3, dilation 2 */
    LM_ARCH_OP_CONV17_71 /* conv 1x7 then conv 7x1 */
} lm_arch_op;

/* Kinds of decoded nodes. All spatial ops use "same" padding: out = ceil(in/stride). */
typedef enum {
    LM_ARCH_NODE_INPUT = 0,
    LM_ARCH_NODE_CONV,     /* kh x kw, stride, dilation, full channels, with bias */
    LM_ARCH_NODE_SEP_CONV, /* depthwise kh x kw (stride, no bias) + pointwise 1x1 (bias) */
    LM_ARCH_NODE_AVG_POOL,
    LM_ARCH_NODE_MAX_POOL,
    LM_ARCH_NODE_IDENTITY,
    LM_ARCH_NODE_ADD,      /* elementwise sum of equal shapes */
    LM_ARCH_NODE_CONCAT,   /* channel concatenation of equal spatial shapes */
    LM_ARCH_NODE_GLOBAL_AVG_POOL,
    LM_ARCH_NODE_DENSE     /* fully connected with bias; c = number of outputs */
} lm_arch_node_kind;

/* One node; (c, h, w) is its output shape. */
typedef struct {
    lm_arch_node_kind kind;
    int n_in;
    int in[LM_ARCH_MAX_INPUTS]; /* indices of earlier nodes */
    int c, h, w;
    int kh, kw, stride, dilation; /* conv/pool only; 0 otherwise */
} lm_arch_node;

typedef struct {
    lm_arch_node *nodes;
    int n_nodes;
    int64_t params; /* filled by lm_arch_cell_decode, see lm_arch_net_cost */
    int64_t flops;
} lm_arch_net;

/* One cell as structure: in[b][k] in [0, b+2), op[b][k] an lm_arch_op. */
typedef struct {
    int n_blocks;
    int in[LM_ARCH_CELL_MAX_BLOCKS][2];
    int op[LM_ARCH_CELL_MAX_BLOCKS][2];
} lm_arch_cell;

/* Genome length for B blocks per cell: 8*B (0 when B is outside 1..MAX_BLOCKS). */
size_t lm_arch_cell_genome_size(int n_blocks);

/* LM_OK when g (n values) is a valid genome for B blocks, else LM_EINVAL with a
 * message naming the cell, block, slot, value and allowed range. */
int lm_arch_cell_check(const int32_t *g, size_t n, int n_blocks);

/* Validates g and writes the two cells' structure. */
int lm_arch_cell_parse(const int32_t *g, size_t n, int n_blocks, lm_arch_cell *normal,
                       lm_arch_cell *reduce);

/* Inverse of parse: writes the genome of two cells (same n_blocks) into g (n values). */
int lm_arch_cell_encode(const lm_arch_cell *normal, const lm_arch_cell *reduce, int32_t *g,
                        size_t n);

/* Maps any vector of the right length to the nearest valid genome by clamping each
 * index into its range. */
int lm_arch_cell_repair(int32_t *g, size_t n, int n_blocks);

/* A uniformly random valid genome. */
int lm_arch_cell_random(lm_rng *rng, int32_t *g, size_t n, int n_blocks);

/* Changes the operation of a uniformly chosen (cell, block, slot) to a different one.
 * g must be valid; it stays valid. */
int lm_arch_cell_mutate_op(lm_rng *rng, int32_t *g, size_t n, int n_blocks);

/* Changes the input of a uniformly chosen (cell, block, slot) to a different valid
 * one. g must be valid; it stays valid. */
int lm_arch_cell_mutate_input(lm_rng *rng, int32_t *g, size_t n, int n_blocks);

/* Block-wise uniform crossover: each block of the child (both cells) is copied from a
 * or b with probability 1/2. a and b must be valid; child (may alias neither) is. */
int lm_arch_cell_crossover(lm_rng *rng, const int32_t *a, const int32_t *b, int32_t *child,
                           size_t n, int n_blocks);

/* Canonical hash of a valid genome. Canonical form: each cell is an expression DAG;
 * h_{i-1} and h_{i-2} are leaves with fixed distinct labels; a block's label is
 * fnv1a64 over (sorted pair of (op, input label)), so the two inputs of a block are
 * unordered; the cell's label is fnv1a64 over B and the sorted labels of the
 * concatenated blocks, so block numbering (any topological order) and the channel
 * order of the concatenation do not matter. The genome hash combines both cells'
 * labels, normal first. */
int lm_arch_cell_hash(const int32_t *g, size_t n, int n_blocks, uint64_t *out);

/* Decodes a genome into a network: stem conv 3x3 with F filters, n_stages stages of N
 * normal cells with a reduction cell before each stage but the first (filters
 * doubled at each), global average pooling and a dense classifier. Cell inputs are
 * first brought to the cell's C filters by a 1x1 conv (stride 2 for h_{i-2} when its
 * spatial size is larger than h_{i-1}'s); in the reduction cell an op applied to a
 * cell input has stride 2, identity becoming a 1x1 conv with stride 2. out is
 * initialised here; free it with lm_arch_net_fini. */
int lm_arch_cell_decode(const int32_t *g, int n_blocks, int n_cells, int filters,
                        int n_stages, int in_c, int in_h, int in_w, int n_classes,
                        lm_arch_net *out);

/* Parameters and FLOPs of a node list. params: conv kh*kw*cin*cout + cout; separable
 * kh*kw*cin + cin*cout + cout; dense cin*cout + cout; others 0. flops counts
 * multiply-accumulates: conv kh*kw*cin*cout*h*w (output h, w); separable
 * (kh*kw*cin + cin*cout)*h*w; dense cin*cout; pooling kh*kw*c*h*w; add (n_in-1)*c*h*w; global
 * pooling one per input element; identity, concat and input 0. */
int lm_arch_net_cost(const lm_arch_net *net, int64_t *params, int64_t *flops);

/* Frees the node list; accepts a zeroed or finalised struct. */
void lm_arch_net_fini(lm_arch_net *net);

#endif
