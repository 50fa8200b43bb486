// The differentiable op library, by area. Each function checks its inputs
// (shape, dtype, device: one-line errors naming both shapes), allocates the
// output, calls the registered kernel and records the backward formula.
#pragma once
#include "trainrt/ops/creation.h"
#include "trainrt/ops/elementwise.h"
#include "trainrt/ops/join.h"
#include "trainrt/ops/linalg.h"
#include "trainrt/ops/loss.h"
#include "trainrt/ops/conv_pool.h"
#include "trainrt/ops/optim.h"
#include "trainrt/ops/reduce.h"
