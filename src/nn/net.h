/* Networks inside the engine: tensors, layers behind a table of operations, and the
 * network object that owns the flat parameter, gradient and momentum buffers and
 * runs the layers of a DAG in order.
 *
 * A network is a list of layers in execution (topological) order. Every layer reads
 * tensors that exist before it (by id: 0 is the network's input, i + 1 is layer i's
 * output) and writes its own output tensor. Parameters live in three flat buffers,
 * one each for values, gradients and SGD momentum, with per-layer pointers into them
 * as llm.c does, so a whole model is one array to send or save; batch-normalization
 * running statistics (net->stats) follow the parameter values in their block.
 *
 * Each tensor has a layout (a oneDNN memory descriptor for one sample, dnn.h) chosen
 * when the network is finished: convolutions pick blocked layouts, which the layers
 * after them keep. Activations and their gradients are planned once for the largest
 * batch in one arena, with buffers whose lifetimes do not overlap sharing memory.
 * A tensor read by several layers gets its gradient summed: the first layer to run
 * backward writes it, the others add to it (lm__grad_dst/lm__grad_done).
 *
 *     lm__net *net;
 *     lm__net_create((lm__shape){1, 28, 28}, &net);
 *     lm__net_add_dense(net, 256, 1);     // dense + fused ReLU
 *     lm__net_add_dropout(net, 0.5);
 *     lm__net_add_dense(net, 10, 0);
 *     lm__net_finish(net, 128, 0, seed, trial);
 *     lm__net_forward(net, X, n, 1);
 *     lm__tensor *out = lm__net_output(net);
 *     lm__softmax_ce(out->grad, out->data, y, n, 10, NULL);
 *     lm__net_backward(net, n);
 *     lm__net_sgd_step(net, &opt, lr);
 */
#ifndef LAMARCK_NN_NET_H
#define LAMARCK_NN_NET_H

#include "lamarck/rng.h"
#include "nn/dnn.h"

#include <stdint.h>

#define LM__NET_MAX_IN 16 /* inputs of one layer (LM_LAYER_MAX_INPUTS: a NASNet cell's
                           * concatenation or sum may have many) */

/* The shape of one sample: channels x height x width (a vector is c x 1 x 1). */
typedef struct lm__shape {
    int c, h, w;
} lm__shape;

static inline int64_t lm__shape_size(lm__shape s) { return (int64_t)s.c * s.h * s.w; }

/* A batch of samples: sample i occupies data[i * stride .. (i + 1) * stride) in the
 * tensor's layout (C order c x h x w when plain). */
typedef struct lm__tensor {
    lm__shape shape;        /* of one sample */
    int64_t size;           /* logical elements of one sample */
    int64_t stride;         /* floats of one sample in data and grad (>= size: blocked
                             * layouts pad the channels to whole blocks) */
    int plain;              /* C order: stride == size */
    dnnl_memory_desc_t md;  /* the layout for one sample */
    float *data;            /* max_batch x stride; for the input, the caller's batch */
    float *grad;            /* d loss / d data, same layout; NULL where no gradient is needed */
    int needs_grad;         /* a parameter (or the input, for gradient checks) lies upstream */
    int consumers;          /* layers reading it */
} lm__tensor;

typedef struct lm__net lm__net;
typedef struct lm__layer lm__layer;

/* What a layer kind needs besides its inputs. Fields a kind does not use stay 0. */
typedef struct lm__layer_cfg {
    int units;           /* dense: output features; conv: output channels; add: channels */
    int relu;            /* dense, conv: apply ReLU to the output (fused) */
    double p;            /* dropout: drop probability in [0, 1) */
    int follow;          /* dropout: p follows the training parameter "dropout" */
    int kernel;          /* conv, pools: kernel height, and width unless kernel_w (global
                          * pooling: the input's) */
    int kernel_w;        /* conv: kernel width; 0: square (kernel, with pad_w = pad) */
    int pad_w;           /* conv with kernel_w: padding on the left and right */
    int stride;          /* conv, pools, zero: >= 1 */
    int pad;             /* conv, pools: padding on each side (conv with kernel_w: top and
                          * bottom) */
    int dil;             /* conv: dilation >= 1 */
    int groups;          /* conv: >= 1 */
    int bias;            /* conv: has a bias */
    int avg;             /* pool: average (padding excluded) instead of maximum */
    int global;          /* pool: over the whole input (kernel = height x width) */
} lm__layer_cfg;

/* A layer kind. Every function gets the layer and its network; inputs are
 * net->tensors[l->in[j]], the output is net->tensors[l->id]. */
typedef struct lm__layer_ops {
    const char *kind;
    /* Checks cfg and the input shapes; sets the output's shape (lm__out(net, l)->shape),
     * the parameter counts l->n_w (weights, which weight decay and pruning apply to),
     * l->n_b (biases and other parameters, which they do not), l->n_s (running
     * statistics), l->flops, l->bwd_in and l->bwd_out. LM_EINVAL with a message naming
     * the layer on a bad configuration. Allocates nothing. */
    int (*setup)(lm__layer *l, const lm__net *net);
    /* Initial parameter values (l->w, l->b, l->s already point into the flat buffers),
     * by net->init. */
    void (*init_params)(lm__layer *l, const lm__net *net, lm_rng *init);
    /* Chooses the output's layout (lm__out(net, l)->md) from the inputs' layouts, at
     * batch max_batch; may create the layer's private state (freed by fini). NULL:
     * the output takes input 0's layout (shape-preserving kinds). */
    int (*layout)(lm__layer *l, lm__net *net, int max_batch);
    /* (Re)allocates the layer's own buffers for max_batch samples; may be NULL. */
    int (*plan)(lm__layer *l, lm__net *net, int max_batch);
    /* Creates the primitives for batches of n samples, once per n; may be NULL. */
    int (*prepare)(lm__layer *l, lm__net *net, int n);
    /* Computes the output from the inputs for n samples (net->train says the mode). */
    int (*forward)(lm__layer *l, lm__net *net, int n);
    /* From the output's gradient: the parameter gradients (overwritten) and the inputs'
     * gradients where they are needed (through lm__grad_dst/lm__grad_done). */
    int (*backward)(lm__layer *l, lm__net *net, int n);
    /* Frees what layout, plan and prepare allocated; may be NULL. */
    void (*fini)(lm__layer *l);
} lm__layer_ops;

struct lm__layer {
    const lm__layer_ops *ops;
    lm__layer_cfg cfg;
    int id;                 /* tensor id of the output: layer index + 1 */
    int in[LM__NET_MAX_IN]; /* tensor ids of the inputs */
    int n_in;
    int acc[LM__NET_MAX_IN];/* backward adds to input j's gradient instead of writing it */
    int bwd_in;             /* backward reads the inputs' data */
    int bwd_out;            /* backward reads the output's data */
    int64_t n_w, n_b, n_s;  /* parameters (weights, then biases), running statistics */
    int64_t off, soff;      /* offsets in the flat parameter and statistics buffers */
    double flops;           /* forward FLOPs per sample (2 x multiply-adds) */
    float *w, *b;           /* values */
    float *dw, *db;         /* gradients */
    float *s;               /* running statistics */
    float *mask;            /* dropout: 0 or 1/(1-p) per element, max_batch x stride */
    void *priv;             /* the kind's own state (primitives, buffers) */
};

/* Primitive sets of one layer, one per batch size (a full batch, the last partial
 * ones of training and validation, a latency batch). */
typedef struct lm__sets {
    int *n;
    void **set;
    int count, cap;
} lm__sets;

void *lm__sets_find(const lm__sets *s, int n);
int lm__sets_add(lm__sets *s, int n, void *set);
/* Frees every set with free_set, then the lists. */
void lm__sets_fini(lm__sets *s, void (*free_set)(void *));

struct lm__net {
    lm__layer *layers;
    int n_layers, cap_layers;
    lm__tensor *tensors;    /* n_layers + 1: the input, then each layer's output */
    int max_batch;
    int input_grad;         /* the input tensor gets a gradient (gradient checks) */
    int train;              /* mode of the current pass: 1 training, 0 evaluation */
    int freeze_masks;       /* tests: dropout reuses its last mask instead of drawing */
    int64_t n_params, n_stats;
    float *params, *grads, *momentum; /* n_params each */
    float *stats;           /* n_stats: batch-normalization running means and variances,
                             * right after the parameters (params + n_params, one block) */
    float *prune_mask;      /* n_params of 0 or 1 once pruned, else NULL */
    float *arena;           /* every planned activation and activation gradient */
    int64_t arena_floats;
    float *acc_buf;         /* a gradient to be added to another (lm__grad_dst) */
    int64_t acc_floats;
    void *scratch;          /* oneDNN scratchpad shared by every primitive */
    size_t scratch_bytes;
    int *prepared;          /* batch sizes whose primitives exist */
    int n_prepared, cap_prepared;
    struct lm__kernels *k;
    lm_rng dropout_rng;     /* (seed, trial, LM_STREAM_DROPOUT), advanced per mask */
    double flops;           /* forward FLOPs per sample */
    int init;               /* lm_init: how init_params draws weights */
    int finished;
};

/* An empty network over samples of shape in. */
int lm__net_create(lm__shape in, lm__net **out);
void lm__net_destroy(lm__net **net);

/* Appends a layer reading tensors in[0..n_in) and returns its output's tensor id
 * (> 0), or a negative error (LM_EINVAL with the layer named when the configuration
 * does not fit the inputs). Only before lm__net_finish. */
int lm__net_add(lm__net *net, const lm__layer_ops *ops, const lm__layer_cfg *cfg, const int *in,
                int n_in);

/* Chain conveniences: the new layer reads the last tensor. */
int lm__net_add_dense(lm__net *net, int units, int relu);
int lm__net_add_relu(lm__net *net);
int lm__net_add_dropout(lm__net *net, double p);

/* Chooses every layout, plans the buffers for max_batch samples, initializes the
 * parameters from (seed, trial, LM_STREAM_INIT) (momentum zero, running means 0 and
 * variances 1), seeds dropout from (seed, trial, LM_STREAM_DROPOUT) and prepares the
 * primitives for max_batch. With input_grad the input tensor gets a gradient buffer
 * too (gradient checks). Every layer's output must be read by a later layer, except
 * the last layer's (the network's output): LM_EINVAL otherwise. */
int lm__net_finish(lm__net *net, int max_batch, int input_grad, uint64_t seed, uint64_t trial);

/* Re-plans the activations for a larger max_batch (parameters and primitives are
 * kept); a smaller one changes nothing. */
int lm__net_grow(lm__net *net, int max_batch);

/* Prepares the primitives for batches of n <= max_batch samples (a last partial
 * batch), so that passes of that size allocate nothing. Once per n. */
int lm__net_prepare(lm__net *net, int n);

/* Forward pass over n <= max_batch samples x (n x input size, plain C order,
 * borrowed until the backward pass), in training (dropout on, batch statistics) or
 * evaluation mode. Prepares n first if it never was. */
int lm__net_forward(lm__net *net, const float *x, int n, int train);

/* Backward pass for the last forward's n samples: expects lm__net_output(net)->grad
 * to hold d loss / d output; fills net->grads (and the input's gradient if any). */
int lm__net_backward(lm__net *net, int n);

static inline lm__tensor *lm__net_output(lm__net *net) { return &net->tensors[net->n_layers]; }
static inline lm__tensor *lm__out(const lm__net *net, const lm__layer *l) {
    return &net->tensors[l->id];
}
static inline lm__tensor *lm__in(const lm__net *net, const lm__layer *l, int j) {
    return &net->tensors[l->in[j]];
}

/* Where layer l writes input j's gradient for n samples: the tensor's own gradient
 * when l is the first to write it, else the accumulation buffer, which
 * lm__grad_done then adds in. NULL when the input needs no gradient. */
float *lm__grad_dst(lm__net *net, const lm__layer *l, int j);
void lm__grad_done(lm__net *net, const lm__layer *l, int j, int n);

/* Input j's gradient receives g (n samples in the input's layout): written, or added
 * when another consumer wrote it first; nothing when the input needs no gradient. */
void lm__grad_pass(lm__net *net, const lm__layer *l, int j, int n, const float *g);

/* Makes the shared oneDNN scratchpad at least bytes large. */
int lm__net_scratch(lm__net *net, size_t bytes);

/* Copies tensor id's data (grad = 0) or gradient (grad = 1) for n samples into out
 * (n x size, plain C order), or from in into the tensor (lm__net_write): tests and
 * the output of a network whose last layer keeps a blocked layout. */
int lm__net_read(lm__net *net, int id, int grad, int n, float *out);
int lm__net_write(lm__net *net, int id, int grad, int n, const float *in);

/* SGD with momentum, optional Nesterov, decoupled weight decay on weights only. */
typedef struct lm__sgd {
    float momentum;     /* mu in [0, 1) */
    int nesterov;
    float weight_decay; /* wd >= 0 */
} lm__sgd;

/* One optimizer step at learning rate lr over every layer's parameters, from the
 * gradients of the last backward pass; pruned weights (net->prune_mask) and their
 * momentum stay 0. */
void lm__net_sgd_step(lm__net *net, const lm__sgd *opt, double lr);

/* Weights w (n_w) and biases b (n_b, may be 0) of a layer with fan_in inputs per
 * output unit, as net->init says. LM_INIT_PYTORCH: PyTorch's default for Linear and
 * Conv2d (kaiming_uniform_ with a = sqrt(5), torch/nn/modules/linear.py and conv.py
 * reset_parameters), weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 * LM_INIT_HE: weights ~ N(0, gain / fan_in) (He et al. 2015, eq. 10), gain 2 before a
 * ReLU (relu_gain) and 1 for a linear output, biases 0. */
void lm__init_weights(const lm__net *net, float *w, int64_t n_w, float *b, int64_t n_b,
                      int64_t fan_in, int relu_gain, lm_rng *rng);

/* Batch normalization's epsilon (bnorm.c; Net2Deeper's normalization undoes it). */
#define LM__BN_EPS 1e-5f

/* Layer kinds. */
extern const lm__layer_ops lm__dense_ops, lm__relu_ops, lm__dropout_ops, lm__identity_ops,
    lm__zero_ops, lm__conv_ops, lm__pool_ops, lm__bnorm_ops, lm__add_ops, lm__concat_ops;

#endif
