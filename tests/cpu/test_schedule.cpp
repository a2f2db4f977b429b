// Learning-rate schedules, reduce-on-plateau and early stopping, at chosen steps against values
// computed by hand (the arithmetic is written next to each expectation).
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "skinnet/train/early_stopping.hpp"
#include "skinnet/train/schedule.hpp"

using namespace skinnet;

TEST_CASE("Constant, step and multi-step schedules") {
  ConstantLr c(0.3);
  CHECK(c.lr_at(0) == 0.3);
  CHECK(c.lr_at(123456) == 0.3);

  StepLr s(0.1, 3, 0.5);  // 0.1 for t = 0..2, 0.05 for 3..5, 0.025 for 6..8
  CHECK(s.lr_at(0) == doctest::Approx(0.1));
  CHECK(s.lr_at(2) == doctest::Approx(0.1));
  CHECK(s.lr_at(3) == doctest::Approx(0.05));
  CHECK(s.lr_at(5) == doctest::Approx(0.05));
  CHECK(s.lr_at(6) == doctest::Approx(0.025));
  CHECK(s.lr_at(30) == doctest::Approx(0.1 / 1024));

  MultiStepLr ms(1.0, {2, 5}, 0.1);
  CHECK(ms.lr_at(1) == doctest::Approx(1.0));
  CHECK(ms.lr_at(2) == doctest::Approx(0.1));
  CHECK(ms.lr_at(4) == doctest::Approx(0.1));
  CHECK(ms.lr_at(5) == doctest::Approx(0.01));
  CHECK(ms.lr_at(500) == doctest::Approx(0.01));

  CHECK_THROWS_AS(StepLr(0.1, 0), ValueError);
  CHECK_THROWS_AS(MultiStepLr(0.1, {5, 2}), ValueError);
  CHECK_THROWS_AS(ConstantLr(-1.0), ValueError);
  CHECK_THROWS_AS(s.lr_at(-1), ValueError);
}

TEST_CASE("Cosine schedule with linear warmup") {
  // base 1.0, min 0.1, warmup 2, total 10, warmup from 0.
  CosineLr c(1.0, 10, 2, 0.1);
  CHECK(c.lr_at(0) == doctest::Approx(0.0));
  CHECK(c.lr_at(1) == doctest::Approx(0.5));  // halfway through warmup
  CHECK(c.lr_at(2) == doctest::Approx(1.0));  // peak: p = 0
  // t = 4: p = 2/8 = 0.25, lr = 0.1 + 0.9 * (1 + cos(pi/4)) / 2 = 0.1 + 0.45 * 1.7071068 = 0.86819805
  CHECK(c.lr_at(4) == doctest::Approx(0.86819805).epsilon(1e-8));
  // t = 6: p = 0.5, lr = 0.1 + 0.45 = 0.55
  CHECK(c.lr_at(6) == doctest::Approx(0.55));
  // t = 9: p = 7/8, lr = 0.1 + 0.45 * (1 + cos(7pi/8)) = 0.1 + 0.45 * 0.0761205 = 0.13425422
  CHECK(c.lr_at(9) == doctest::Approx(0.13425422).epsilon(1e-8));
  CHECK(c.lr_at(10) == doctest::Approx(0.1));
  CHECK(c.lr_at(1000) == doctest::Approx(0.1));

  // Warmup from a non-zero start: 0.2 -> 1.0 over 4 steps, t = 1 gives 0.4; no warmup starts at base.
  CHECK(CosineLr(1.0, 10, 4, 0.0, 0.2).lr_at(1) == doctest::Approx(0.4));
  CHECK(CosineLr(2.0, 4).lr_at(0) == doctest::Approx(2.0));
  CHECK(CosineLr(2.0, 4).lr_at(2) == doctest::Approx(1.0));

  CHECK_THROWS_AS(CosineLr(1.0, 5, 5), ValueError);       // warmup must end before total
  CHECK_THROWS_AS(CosineLr(1.0, 10, 0, 2.0), ValueError);  // min_lr above base
}

TEST_CASE("Poly schedule") {
  PolyLr p(1.0, 10, 2.0);  // (1 - t/10)^2
  CHECK(p.lr_at(0) == doctest::Approx(1.0));
  CHECK(p.lr_at(5) == doctest::Approx(0.25));
  CHECK(p.lr_at(9) == doctest::Approx(0.01));
  CHECK(p.lr_at(10) == doctest::Approx(0.0));
  CHECK(p.lr_at(11) == doctest::Approx(0.0));
  // power 1 from 0.5 to end 0.1 over 4 steps: t = 1 -> 0.1 + 0.4 * 0.75 = 0.4
  CHECK(PolyLr(0.5, 4, 1.0, 0.1).lr_at(1) == doctest::Approx(0.4));
  // warmup 2 then decay over the remaining 8: t = 1 -> 0.5; t = 6 -> (1 - 4/8)^2 = 0.25
  PolyLr w(1.0, 10, 2.0, 0.0, 2);
  CHECK(w.lr_at(1) == doctest::Approx(0.5));
  CHECK(w.lr_at(6) == doctest::Approx(0.25));
  // DeepLab's power 0.9 at a quarter of the way: 0.75^0.9 = 0.77204
  CHECK(PolyLr(1.0, 100).lr_at(25) == doctest::Approx(std::pow(0.75, 0.9)));
  CHECK_THROWS_AS(PolyLr(1.0, 10, 0.0), ValueError);
}

TEST_CASE("Reduce on plateau: patience, factor, cooldown and min_lr") {
  ReduceLrOnPlateau::Options o;
  o.mode = MetricMode::Min;
  o.patience = 2;
  o.factor = 0.5;
  o.threshold = 0.0;
  o.cooldown = 1;
  o.min_lr = 0.2;
  ReduceLrOnPlateau p(1.0, o);
  // epoch: metric -> (bad epochs, lr)
  //   1: 1.0  best            (0, 1.0)
  //   2: 0.9  best            (0, 1.0)
  //   3..4: 0.95              (1, 1.0) (2, 1.0)
  //   5: 0.95 bad 3 > 2       reduce: lr 0.5, cooldown 1
  //   6: 0.95 in cooldown     (0, 0.5)
  //   7..8                    (1, 0.5) (2, 0.5)
  //   9: bad 3                lr 0.25
  //   10 cooldown, 11, 12, 13: bad 3 -> max(0.125, 0.2) = 0.2
  //   then stays at 0.2 without counting more reductions
  const std::vector<double> expect = {1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2,
                                      0.2, 0.2, 0.2, 0.2, 0.2};
  CHECK(p.update(1.0) == expect[0]);
  CHECK(p.update(0.9) == expect[1]);
  for (size_t e = 2; e < expect.size(); ++e) {
    INFO("epoch ", e + 1);
    CHECK(p.update(0.95) == doctest::Approx(expect[e]));
  }
  CHECK(p.reductions() == 3);
  CHECK(p.best() == 0.9);
  // An improvement resets the count.
  CHECK(p.update(0.5) == doctest::Approx(0.2));
  CHECK(p.bad_epochs() == 0);
}

TEST_CASE("Reduce on plateau: relative threshold, max mode, NaN and state round trip") {
  ReduceLrOnPlateau::Options o;
  o.mode = MetricMode::Max;
  o.patience = 1;
  o.threshold = 0.1;  // improvement needs metric > best * 1.1
  ReduceLrOnPlateau p(0.1, o);
  p.update(0.5);
  p.update(0.54);  // < 0.55: bad 1
  CHECK(p.bad_epochs() == 1);
  CHECK(p.best() == 0.5);
  p.update(0.56);  // > 0.55: improvement
  CHECK(p.best() == 0.56);
  CHECK(p.bad_epochs() == 0);
  p.update(std::nan(""));  // NaN is a bad epoch
  CHECK(p.bad_epochs() == 1);

  ReduceLrOnPlateau q(0.1, o);
  q.load_state(p.state());
  for (double m : {0.3, 0.7, 0.2, 0.1, 0.9}) CHECK(q.update(m) == p.update(m));
  CHECK(q.state() == p.state());
  CHECK(p.lr() == doctest::Approx(0.1 * 0.1 * 0.1));  // reduced at epochs 5 (0.3) and 8 (0.1)
  CHECK_THROWS_AS(q.load_state({{"plateau.lr", 1.0}}), ValueError);
  CHECK_THROWS_AS(ReduceLrOnPlateau(0.1, ReduceLrOnPlateau::Options{MetricMode::Min, 1.5}), ValueError);
}

TEST_CASE("Early stopping: patience, min_delta and best epoch") {
  EarlyStopping es(MetricMode::Max, 3, 0.01);
  CHECK_FALSE(es.update(0.50));  // best
  CHECK(es.improved());
  CHECK_FALSE(es.update(0.505));  // not > 0.51: wait 1
  CHECK_FALSE(es.improved());
  CHECK_FALSE(es.update(0.52));  // best, epoch 3
  CHECK(es.best_epoch() == 3);
  CHECK_FALSE(es.update(0.525));  // wait 1
  CHECK_FALSE(es.update(std::nan("")));  // wait 2
  EarlyStopping resumed(MetricMode::Max, 3, 0.01);
  resumed.load_state(es.state());
  CHECK(es.update(0.40));  // wait 3: stop
  CHECK(resumed.update(0.40));
  CHECK(es.best() == 0.52);
  CHECK(es.wait() == 3);

  EarlyStopping loss(MetricMode::Min, 2);
  CHECK_FALSE(loss.update(1.0));
  CHECK_FALSE(loss.update(0.9));
  CHECK_FALSE(loss.update(0.9));  // equal is not better: wait 1
  CHECK(loss.update(1.1));        // wait 2: stop
  CHECK(loss.best_epoch() == 2);

  EarlyStopping never(MetricMode::Min, 0);  // patience 0: only tracks the best
  for (int i = 0; i < 10; ++i) CHECK_FALSE(never.update(1.0 + i));
  CHECK_THROWS_AS(EarlyStopping(MetricMode::Min, -1), ValueError);
}
