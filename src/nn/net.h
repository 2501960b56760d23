/* Networks inside the engine: tensors, layers behind a table of operations, and the
 * network object that owns the flat parameter, gradient and momentum buffers.
 *
 * A network is a list of layers in execution order. Every layer reads tensors that
 * exist before it (by id: 0 is the network's input, i + 1 is layer i's output) and
 * writes its own output tensor, planned once for the largest batch. A chain reads the
 * previous tensor; a graph executor only has to pass other ids (the layer record
 * keeps a list of inputs for that). Parameters live in three flat buffers, one each
 * for values, gradients and SGD momentum, with per-layer pointers into them as
 * llm.c does, so a whole model is one array to send or save.
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

#include <stdint.h>

#define LM__NET_MAX_IN 4 /* inputs of one layer (a concatenation may have several) */

/* The shape of one sample: channels x height x width (a vector is c x 1 x 1). */
typedef struct lm__shape {
    int c, h, w;
} lm__shape;

static inline int64_t lm__shape_size(lm__shape s) { return (int64_t)s.c * s.h * s.w; }

/* A batch of samples, row-major: sample i occupies data[i * size .. (i + 1) * size). */
typedef struct lm__tensor {
    lm__shape shape; /* of one sample */
    int64_t size;    /* elements of one sample */
    float *data;     /* max_batch x size; for the input, the caller's batch */
    float *grad;     /* d loss / d data, same size; NULL where no gradient is needed */
} lm__tensor;

typedef struct lm__net lm__net;
typedef struct lm__layer lm__layer;

/* What a layer kind needs besides its inputs. Fields a kind does not use stay 0. */
typedef struct lm__layer_cfg {
    int units;    /* dense: output features */
    int relu;     /* dense: apply ReLU to the output (fused into the product) */
    double p;     /* dropout: drop probability in [0, 1) */
} lm__layer_cfg;

/* A layer kind. Every function gets the layer and its network; inputs are
 * net->tensors[l->in[j]], the output is l->out. */
typedef struct lm__layer_ops {
    const char *kind;
    /* Checks cfg and the input shapes; sets l->out.shape and the parameter counts
     * l->n_w (weights, which weight decay applies to) and l->n_b (biases, which it
     * does not). LM_EINVAL with a message naming the layer on a bad configuration. */
    int (*setup)(lm__layer *l, const lm__net *net);
    /* Initial parameter values (l->w, l->b already point into the flat buffer). */
    void (*init_params)(lm__layer *l, lm_rng *init);
    /* Allocates the layer's own buffers for max_batch samples; may be NULL. */
    int (*plan)(lm__layer *l, lm__net *net, int max_batch);
    /* Creates the kernels for batches of n samples so that later passes allocate
     * nothing; may be NULL. */
    int (*prepare)(lm__layer *l, lm__net *net, int n);
    /* Computes l->out from the inputs for n samples (net->train says the mode). */
    int (*forward)(lm__layer *l, lm__net *net, int n);
    /* From l->out.grad: the parameter gradients (overwritten) and the inputs'
     * gradients where they are not NULL (overwritten: one consumer per tensor). */
    int (*backward)(lm__layer *l, lm__net *net, int n);
    /* Frees what plan allocated; may be NULL. */
    void (*fini)(lm__layer *l);
} lm__layer_ops;

struct lm__layer {
    const lm__layer_ops *ops;
    lm__layer_cfg cfg;
    int in[LM__NET_MAX_IN]; /* tensor ids of the inputs */
    int n_in;
    lm__tensor out;
    int64_t n_w, n_b;       /* parameters: weights, then biases, in the flat buffers */
    int64_t off;            /* offset of the weights in the flat buffers */
    float *w, *b;           /* values */
    float *dw, *db;         /* gradients */
    float *mask;            /* dropout: 0 or 1/(1-p) per element, max_batch x size */
};

struct lm__net {
    lm__layer *layers;
    int n_layers, cap_layers;
    lm__tensor *tensors;    /* n_layers + 1: the input, then each layer's output */
    int max_batch;
    int train;              /* mode of the current pass: 1 training, 0 evaluation */
    int freeze_masks;       /* tests: dropout reuses its last mask instead of drawing */
    int64_t n_params;
    float *params, *grads, *momentum; /* n_params each */
    float *arena;           /* every planned activation and activation gradient */
    struct lm__kernels *k;
    lm_rng dropout_rng;     /* (seed, trial, LM_STREAM_DROPOUT), advanced per mask */
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

/* Lays out the flat buffers and the activations for max_batch samples, initializes
 * the parameters from (seed, trial, LM_STREAM_INIT) (momentum zero), seeds dropout
 * from (seed, trial, LM_STREAM_DROPOUT) and prepares kernels for max_batch. With
 * input_grad the input tensor gets a gradient buffer too (gradient checks). */
int lm__net_finish(lm__net *net, int max_batch, int input_grad, uint64_t seed, uint64_t trial);

/* Prepares the kernels for batches of n <= max_batch samples (a last partial batch),
 * so that passes of that size allocate nothing. */
int lm__net_prepare(lm__net *net, int n);

/* Forward pass over n <= max_batch samples x (n x input size, borrowed until the
 * backward pass), in training (dropout on) or evaluation mode. */
int lm__net_forward(lm__net *net, const float *x, int n, int train);

/* Backward pass for the last forward's n samples: expects lm__net_output(net)->grad
 * to hold d loss / d output; fills net->grads (and the input's gradient if any). */
int lm__net_backward(lm__net *net, int n);

static inline lm__tensor *lm__net_output(lm__net *net) { return &net->tensors[net->n_layers]; }

/* SGD with momentum, optional Nesterov, decoupled weight decay on weights only. */
typedef struct lm__sgd {
    float momentum;     /* mu in [0, 1) */
    int nesterov;
    float weight_decay; /* wd >= 0 */
} lm__sgd;

/* One optimizer step at learning rate lr over every layer's parameters, from the
 * gradients of the last backward pass. */
void lm__net_sgd_step(lm__net *net, const lm__sgd *opt, double lr);

/* Layer kinds. */
extern const lm__layer_ops lm__dense_ops, lm__relu_ops, lm__dropout_ops;

#endif
