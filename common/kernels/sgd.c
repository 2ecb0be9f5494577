/* sgd.c — the optimizer step: torch.optim.SGD with momentum and weight decay (dampening 0,
 * nesterov off), one parameter tensor per call, with torch's order of float operations:
 *   g' = g + wd * w;   v = mu * v + g';   w = w + (-lr) * v. */
#include "kernels.h"

void pc_sgd_step(float *w, float *v, const float *g, size_t n, float lr, float momentum,
                 float weight_decay) {
  // w: (n)  v: (n) or NULL when momentum == 0  g: (n)
  if (momentum != 0.0f) {
    for (size_t i = 0; i < n; i++) {
      float d = g[i];
      if (weight_decay != 0.0f) d = d + weight_decay * w[i];
      v[i] = momentum * v[i] + d;
      w[i] = w[i] + (-lr) * v[i];
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      float d = g[i];
      if (weight_decay != 0.0f) d = d + weight_decay * w[i];
      w[i] = w[i] + (-lr) * d;
    }
  }
}
