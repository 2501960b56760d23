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
    LM_ARCH_NODE_DENSE     /* fully connected with bias on the input flattened to c*h*w
                              features; c = number of outputs, h = w = 1 */
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
 * kh*kw*cin + cin*cout + cout; dense cin*cout + cout with cin = c*h*w of its input
 * (flattened); others 0. flops counts
 * multiply-accumulates: conv kh*kw*cin*cout*h*w (output h, w); separable
 * (kh*kw*cin + cin*cout)*h*w; dense cin*cout; pooling kh*kw*c*h*w; add (n_in-1)*c*h*w; global
 * pooling one per input element; identity, concat and input 0. */
int lm_arch_net_cost(const lm_arch_net *net, int64_t *params, int64_t *flops);

/* Frees the node list; accepts a zeroed or finalised struct. */
void lm_arch_net_fini(lm_arch_net *net);

/* ======================================================================
 * Unified architecture spaces.
 *
 * One lm_arch_space describes a family and its settings; every search algorithm
 * works through the lm_arch_* functions below, which dispatch to the family:
 *
 *     lm_arch_space as;
 *     lm_arch_space_default(&as, LM_ARCH_CHAIN);
 *     as.in_c = 1; as.in_h = as.in_w = 28; as.n_classes = 10;
 *     as.max_params = 100000;
 *     int32_t g[64];
 *     size_t n = lm_arch_genome_size(&as);
 *     lm_arch_random(&as, &rng, g, n);          // retries until within max_params
 *     lm_arch_net net;
 *     lm_arch_decode(&as, g, n, &net);
 *     ...
 *     lm_arch_net_fini(&net);
 *
 * Families:
 * - LM_ARCH_CELL: the NASNet cells above (N cells per stage, F filters, stages).
 * - LM_ARCH_CHAIN: a chain of layers. Genome: a depth gene, then max_depth slots of
 *   (type, kernel, width, stride, skip) genes; the skip gene exists only when skips
 *   are enabled. type, kernel, width and stride are indices into the allowed lists
 *   (types in lm_arch_layer_type order of the mask). Slot i's skip gene is a mask:
 *   bit k says layer i also reads source k, where source 0 is the chain input (stem
 *   output) and source k >= 1 the output of layer k-1; layer i's main input is
 *   source i, so bits run over 0..i-1. Slots >= depth are inactive: ignored by
 *   decoding and hashing, kept within their gene ranges. Template: a stem conv 3x3
 *   (stem_filters, none when 0), the active layers split into `stages` stages (stage
 *   s holds layers floor(s*d/S) .. floor((s+1)*d/S)-1) with a 2x2 max pool of stride
 *   2 before each stage but the first; skips stay within a stage (source f, the
 *   first of a stage, is the stage's pooled input). A dense layer flattens; after the
 *   first dense layer only dense and identity layers may follow, and with several
 *   stages dense layers may only be in the last one. A skip joins sources of the same
 *   domain only (both before or both after the first dense layer). Layers:
 *   conv k x k, separable conv k x k, dilated conv 3x3 with dilation 2 (kernel gene
 *   ignored), max/avg pool k x k (width ignored), dense (kernel and stride ignored),
 *   identity (only its skips matter). Add skips project a source whose shape differs
 *   from the main input's with a 1x1 conv (stride = spatial ratio, main's channels;
 *   a dense node after the flattening); concat skips project only the spatial size
 *   (1x1 conv keeping the source's channels). The head is global average pooling
 *   (when the last output is spatial) and a dense classifier.
 * - LM_ARCH_MLP: the chain family restricted to dense and identity layers, with no
 *   kernel or stride genes, no stem and one stage (tabular data).
 * - LM_ARCH_GCNN: Genetic CNN (Xie and Yuille 2017): `stages` stages of `nodes` K
 *   nodes; per stage K(K-1)/2 bits, bit j*(j-1)/2 + i for the edge i -> j (i < j).
 *   Each node is a conv 3x3 (BN/ReLU belong to the nn translation); a stage has an
 *   input conv 3x3 reading the stage's input and an output conv 3x3 reading the sum
 *   of its sinks; a node without predecessors reads the input conv, isolated nodes
 *   are dropped, and a stage without edges is a single conv 3x3. Filters double at
 *   each stage from `filters`; a 2x2 max pool of stride 2 sits between stages.
 * ====================================================================== */

#define LM_ARCH_CHAIN_MAX_DEPTH 10
#define LM_ARCH_MAX_KERNELS 4
#define LM_ARCH_MAX_WIDTHS 16
#define LM_ARCH_GCNN_MAX_STAGES 8
#define LM_ARCH_GCNN_MAX_NODES 8

/* Returned (positive) by a named mutation operator that cannot apply to a genome
 * (add_layer at max_depth, remove_skip without skips, ...); the genome is unchanged. */
#define LM_ARCH_NOT_APPLICABLE 1

typedef enum { LM_ARCH_CELL, LM_ARCH_CHAIN, LM_ARCH_MLP, LM_ARCH_GCNN } lm_arch_family;

typedef enum {
    LM_ARCH_LAYER_CONV = 0,
    LM_ARCH_LAYER_SEP_CONV,
    LM_ARCH_LAYER_DIL_CONV, /* 3x3, dilation 2 */
    LM_ARCH_LAYER_MAX_POOL,
    LM_ARCH_LAYER_AVG_POOL,
    LM_ARCH_LAYER_DENSE,
    LM_ARCH_LAYER_IDENTITY,
    LM_ARCH_LAYER_N
} lm_arch_layer_type;

typedef enum { LM_ARCH_SKIP_NONE, LM_ARCH_SKIP_ADD, LM_ARCH_SKIP_CONCAT } lm_arch_skip;

/* Named mutation operators; each family applies only its own. */
typedef enum {
    LM_ARCH_MUT_ADD_LAYER = 0, /* chain, mlp */
    LM_ARCH_MUT_REMOVE_LAYER,  /* chain, mlp */
    LM_ARCH_MUT_CHANGE_KERNEL, /* chain */
    LM_ARCH_MUT_CHANGE_WIDTH,  /* chain, mlp */
    LM_ARCH_MUT_ADD_SKIP,      /* chain, mlp (with skips) */
    LM_ARCH_MUT_REMOVE_SKIP,   /* chain, mlp (with skips) */
    LM_ARCH_MUT_CHANGE_TYPE,   /* chain, mlp */
    LM_ARCH_MUT_CHANGE_OP,     /* cell */
    LM_ARCH_MUT_CHANGE_INPUT,  /* cell */
    LM_ARCH_MUT_FLIP_EDGE,     /* gcnn */
    LM_ARCH_MUT_CHANGE_STRIDE, /* chain (with several strides) */
    LM_ARCH_MUT_N
} lm_arch_mutation;

typedef struct lm_arch_space {
    lm_arch_family family;
    /* cell: blocks per cell; cells = N normal cells per stage; filters = F.
     * gcnn: filters of the first stage. cell, chain (template) and gcnn: stages. */
    int blocks, cells, filters, stages;
    /* chain and mlp */
    int min_depth, max_depth;          /* 1 <= min <= max <= LM_ARCH_CHAIN_MAX_DEPTH */
    unsigned types;                    /* mask of 1u << lm_arch_layer_type */
    int n_kernels, kernels[LM_ARCH_MAX_KERNELS]; /* distinct, from {1, 3, 5, 7} */
    int n_widths, widths[LM_ARCH_MAX_WIDTHS];    /* filters or units, distinct */
    int n_strides, strides[2];                   /* distinct, from {1, 2} */
    lm_arch_skip skips;
    int stem_filters;                  /* chain: 0 for no stem */
    /* gcnn */
    int nodes;                         /* K per stage, 2..LM_ARCH_GCNN_MAX_NODES */
    double flip_prob;                  /* q: probability of flipping each bit */
    /* sample shape, set by the caller before decoding (0 = unknown) */
    int in_c, in_h, in_w, n_classes;
    /* constraints (0 = none) */
    int64_t max_params;
    double max_flops;                  /* multiply-accumulates per sample */
    int max_tries;                     /* random/mutate attempts, default 200 */
    double mutation_prob[LM_ARCH_MUT_N]; /* relative weights of the named operators */
} lm_arch_space;

/* One chain layer as structure: actual kernel size, width and stride (not indices). */
typedef struct {
    lm_arch_layer_type type;
    int kernel, width, stride; /* mlp: kernel 0, stride 1 */
    uint32_t skip;             /* bit k: also reads source k (see above) */
} lm_arch_layer;

typedef struct {
    int depth;
    lm_arch_layer layer[LM_ARCH_CHAIN_MAX_DEPTH];
} lm_arch_chain;

/* Fills as with the defaults of family f (cell: B=5, N=2, F=16, 3 stages; chain:
 * depth 2..8, all layer types, kernels 3,5, widths 16..128, strides 1,2, add skips,
 * one stage, stem 16; mlp: depth 1..4, dense and identity, widths 32..512, no skips;
 * gcnn: 3 stages of 4 nodes, 16 filters, q = 0.05), no sample shape, no
 * constraints, max_tries 200, every mutation weight 1. */
void lm_arch_space_default(lm_arch_space *as, lm_arch_family f);

/* LM_OK when as is consistent, else LM_EINVAL naming the field, its value and what
 * is allowed. A sample shape of zeros is allowed (unknown); constraints need it. */
int lm_arch_space_check(const lm_arch_space *as);

/* Genes of the family's genome (0 when as is invalid). */
size_t lm_arch_genome_size(const lm_arch_space *as);

/* Name ("arch.depth", "arch.l3.type", "arch.normal.b2.op1", "arch.s1.e0_2") and
 * inclusive range of gene i. */
int lm_arch_gene_info(const lm_arch_space *as, size_t i, char *name, size_t cap, int32_t *lo,
                      int32_t *hi);

/* LM_OK when g is a valid genome, else LM_EINVAL with the reason (gene, value, rule). */
int lm_arch_check(const lm_arch_space *as, const int32_t *g, size_t n);

/* Maps any vector of the right length to a nearby valid genome: genes clamped into
 * their ranges, then the family's structural rules enforced. */
int lm_arch_repair(const lm_arch_space *as, int32_t *g, size_t n);

/* A random valid genome satisfying the constraints, retried up to max_tries times.
 * On failure returns LM_ERANGE naming the constraint and the smallest value seen,
 * and leaves in g the valid genome that came closest. */
int lm_arch_random(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n);

/* Applies one named operator drawn by mutation_prob among those of the family that
 * apply to g (an operator that does not apply is dropped and another drawn); with
 * constraints, retries from the parent up to max_tries times. g must be valid; on
 * success it holds the child and *op_applied (may be NULL) the operator. Fails with
 * LM_EINVAL when no operator applies, LM_ERANGE when no child met the constraints
 * (g unchanged, *op_applied -1). */
int lm_arch_mutate(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n, int *op_applied);

/* Child of valid genomes a and b: chains one-point over layer slots (uniform == 0)
 * or uniform per slot; cells block-wise uniform; gcnn stage-wise uniform. The child
 * is repaired; it may alias neither parent. */
int lm_arch_crossover(const lm_arch_space *as, lm_rng *rng, int uniform, const int32_t *a,
                      const int32_t *b, int32_t *child, size_t n);

/* Canonical hash: genomes decoding to the same network hash equal (see the family's
 * hash function for what is recognised). */
int lm_arch_hash(const lm_arch_space *as, const int32_t *g, size_t n, uint64_t *out);

/* Decodes a valid genome with the space's sample shape (which must be set); fills
 * params and flops. out is initialised here; free it with lm_arch_net_fini. */
int lm_arch_decode(const lm_arch_space *as, const int32_t *g, size_t n, lm_arch_net *out);

/* LM_OK when net is within max_params and max_flops, else LM_ERANGE ("architecture
 * has 312,456 parameters, above max_params 100,000"). */
int lm_arch_check_constraints(const lm_arch_space *as, const lm_arch_net *net);

/* Readable multi-line form: one line per layer, block or stage, then the parameter
 * and FLOP counts when the sample shape is set. LM_ERANGE when cap is too small. */
int lm_arch_format(const lm_arch_space *as, const int32_t *g, size_t n, char *buf, size_t cap);

/* One line "family=cell blocks=5 cells=2 ..." holding every setting of the space,
 * for HDF5 attributes. LM_ERANGE when cap is too small (1024 bytes always suffice). */
int lm_arch_describe(const lm_arch_space *as, char *buf, size_t cap);

/* Inverse of lm_arch_describe: settings not named keep the family's defaults; the
 * result is checked. LM_EINVAL names an unknown key or a bad value. */
int lm_arch_space_parse_description(const char *desc, lm_arch_space *as);

/* "add_layer", ... ("?" for an unknown op); find returns the op or -1. */
const char *lm_arch_mutation_name(int op);
int lm_arch_mutation_find(const char *name);

/* ---- chain and mlp family (as->family LM_ARCH_CHAIN or LM_ARCH_MLP) ---- */

int lm_arch_chain_check(const lm_arch_space *as, const int32_t *g, size_t n);
int lm_arch_chain_repair(const lm_arch_space *as, int32_t *g, size_t n);
/* Uniform depth; each active layer's type drawn among those valid at its position,
 * other genes uniform within their ranges, then repaired. */
int lm_arch_chain_random(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n);
/* Validates g and writes its active layers' structure. */
int lm_arch_chain_parse(const lm_arch_space *as, const int32_t *g, size_t n, lm_arch_chain *out);
/* Inverse of parse; inactive slots get index 0 and no skips. Fails with LM_EINVAL when
 * a value is not in the allowed lists or the result is not a valid genome. */
int lm_arch_chain_encode(const lm_arch_space *as, const lm_arch_chain *c, int32_t *g, size_t n);

/* Named mutation operators. g must be valid and stays valid (repaired); each
 * returns LM_OK, LM_ARCH_NOT_APPLICABLE (g unchanged) or a negative error.
 * add_layer inserts a random layer at a random position (skip masks renumbered);
 * remove_layer deletes one (skips from it now read its main input). */
int lm_arch_chain_add_layer(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n);
int lm_arch_chain_remove_layer(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n);
int lm_arch_chain_change_kernel(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n);
int lm_arch_chain_change_width(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n);
int lm_arch_chain_change_stride(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n);
int lm_arch_chain_add_skip(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n);
int lm_arch_chain_remove_skip(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n);
int lm_arch_chain_change_type(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n);

/* One-point: the child takes a's slots before a random cut and b's from it, and b's
 * depth when the cut is within b's layers, else a's (clamped to the depth range).
 * Uniform: the depth and each slot from a or b with probability 1/2. Repaired. */
int lm_arch_chain_crossover(const lm_arch_space *as, lm_rng *rng, int uniform, const int32_t *a,
                            const int32_t *b, int32_t *child, size_t n);

/* Canonical hash over the network's expression DAG: inactive slots, ignored genes
 * (kernel of dense, width of pools, ...), identity layers and the order of a layer's
 * inputs do not matter. */
int lm_arch_chain_hash(const lm_arch_space *as, const int32_t *g, size_t n, uint64_t *out);
int lm_arch_chain_decode(const lm_arch_space *as, const int32_t *g, size_t n, lm_arch_net *out);

/* ---- Genetic-CNN family (as->family LM_ARCH_GCNN) ---- */

int lm_arch_gcnn_check(const lm_arch_space *as, const int32_t *g, size_t n);
int lm_arch_gcnn_repair(const lm_arch_space *as, int32_t *g, size_t n);
int lm_arch_gcnn_random(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n);
/* Flips each bit with probability flip_prob, at least one. */
int lm_arch_gcnn_flip_edges(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n);
/* Each stage's bits from a or b with probability 1/2. */
int lm_arch_gcnn_crossover(const lm_arch_space *as, lm_rng *rng, const int32_t *a,
                           const int32_t *b, int32_t *child, size_t n);
/* Hash of each stage's expression DAG (isolated nodes dropped, node numbering
 * irrelevant), with its numbers of active nodes and edges. */
int lm_arch_gcnn_hash(const lm_arch_space *as, const int32_t *g, size_t n, uint64_t *out);
int lm_arch_gcnn_decode(const lm_arch_space *as, const int32_t *g, size_t n, lm_arch_net *out);

#endif
