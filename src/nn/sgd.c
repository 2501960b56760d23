/* Stochastic gradient descent with momentum, Nesterov momentum and decoupled weight
 * decay, over the network's flat buffers.
 *
 * The step, for each parameter w with gradient g and momentum buffer m (zero at the
 * start), at learning rate lr (the schedule's value for this step):
 *
 *     m <- mu m + g
 *     d <- g + mu m        (Nesterov, as in Sutskever et al. 2013 and PyTorch)
 *     d <- m               (otherwise)
 *     w <- w - lr (d + wd w)
 *
 * The decay term wd w never enters the momentum buffer: this is the decoupled weight
 * decay of Loshchilov and Hutter 2019 (SGDW, Algorithm 1 line 9, with their schedule
 * multiplier eta_t = lr / lr_0 and lambda = lr_0 wd), the convention PyTorch's AdamW
 * uses too. It applies to weights (matrices, kernels) and not to biases. Without
 * weight decay this is exactly PyTorch's torch.optim.SGD (dampening 0), so its
 * learning rates and momenta carry over. */
#include "nn/kernel.h"
#include "nn/net.h"


/* The hot loop of small-batch training (every parameter, every step): 16 at a time
 * (kernel.h), each case its own branch-free loop. The vector and the scalar tail
 * compute the same expression, so results do not depend on where a value falls. */
LM__CLONES void lm__sgd_update(float *restrict w, float *restrict m, const float *restrict g,
                               int64_t n, float lr, float mu, int nesterov, float wd) {
    int64_t i = 0;
    lm__v16f wi, mi, gi;
    if (nesterov) {
        for (; i + 16 <= n; i += 16) {
            LM__VLOAD(wi, w + i);
            LM__VLOAD(mi, m + i);
            LM__VLOAD(gi, g + i);
            mi = mu * mi + gi;
            wi = wi - lr * (gi + mu * mi + wd * wi);
            LM__VSTORE(m + i, mi);
            LM__VSTORE(w + i, wi);
        }
        for (; i < n; i++) {
            float mv = mu * m[i] + g[i];
            m[i] = mv;
            w[i] = w[i] - lr * (g[i] + mu * mv + wd * w[i]);
        }
    } else {
        for (; i + 16 <= n; i += 16) {
            LM__VLOAD(wi, w + i);
            LM__VLOAD(mi, m + i);
            LM__VLOAD(gi, g + i);
            mi = mu * mi + gi;
            wi = wi - lr * (mi + wd * wi);
            LM__VSTORE(m + i, mi);
            LM__VSTORE(w + i, wi);
        }
        for (; i < n; i++) {
            float mv = mu * m[i] + g[i];
            m[i] = mv;
            w[i] = w[i] - lr * (mv + wd * w[i]);
        }
    }
}

void lm__net_sgd_step(lm__net *net, const lm__sgd *opt, double lr) {
    float flr = (float)lr;
    for (int i = 0; i < net->n_layers; i++) {
        const lm__layer *l = &net->layers[i];
        if (l->n_w + l->n_b == 0) continue;
        float *m = net->momentum + l->off;
        lm__sgd_update(l->w, m, l->dw, l->n_w, flr, opt->momentum, opt->nesterov, opt->weight_decay);
        lm__sgd_update(l->b, m + l->n_w, l->db, l->n_b, flr, opt->momentum, opt->nesterov, 0.0f);
        if (net->prune_mask && l->n_w) {
            /* Pruned weights stay 0, and so does their momentum, so that nothing
             * builds up behind the mask. */
            const float *mask = net->prune_mask + l->off;
            lm__mul(l->w, l->w, mask, l->n_w);
            lm__mul(m, m, mask, l->n_w);
        }
    }
}
