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

void lm__sgd_update(float *restrict w, float *restrict m, const float *restrict g, int64_t n,
                    float lr, float mu, int nesterov, float wd) {
    /* Separate loops per case keep the inner loop branch-free, so it vectorizes. */
    if (nesterov) {
        for (int64_t i = 0; i < n; i++) {
            float mi = mu * m[i] + g[i];
            m[i] = mi;
            w[i] -= lr * (g[i] + mu * mi + wd * w[i]);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            float mi = mu * m[i] + g[i];
            m[i] = mi;
            w[i] -= lr * (mi + wd * w[i]);
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
    }
}
