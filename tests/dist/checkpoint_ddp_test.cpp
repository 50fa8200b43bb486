// Checkpoints under ddp through `trainrt launch`: rank 0 writes, every rank
// reads; two ranks killed after step N and resumed end bitwise equal to a
// straight run; and a checkpoint written under one strategy or world size
// loads under another (same model, optimizer state and loader position).
#include "dist/job_runner.h"
#include "lua/checkpoint_helpers.h"

namespace trainrt::test {
namespace {

struct DdpDir {
  std::filesystem::path dir = make_temp_dir();
  DdpDir() {
    write_training_csv(dir / "data.csv");
    std::ofstream(dir / "resume.lua") << kResumeScript;
  }
  // Two ranks with batch 4 each (the global batch 8 of one process).
  ScriptResult launch(const std::string& args) const {
    return run_trainrt("launch --nproc-per-node 2 --master-port 0 resume.lua --strategy ddp --threads 1 --seed 5 "
                       "--batch-size 4 " + args,
                       dir);
  }
  ScriptResult single(const std::string& args) const {
    return run_trainrt("train resume.lua --threads 1 --seed 5 --batch-size 8 " + args, dir);
  }
};

TEST(CheckpointDdp, TwoRanksKilledAndResumedMatchAStraightRunBitwise) {
  DdpDir d;
  ScriptResult straight = d.launch("--steps 20 --out straight.safetensors");
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  ScriptResult killed = d.launch("--steps 20 --kill-at 15 --checkpoint-dir ck --set checkpoint.every_steps=5");
  ASSERT_NE(killed.exit_code, 0) << killed.output;
  ASSERT_TRUE(std::filesystem::exists(d.dir / "ck/ckpt-s000000015-e0001.safetensors")) << killed.output;
  ScriptResult resumed =
      d.launch("--steps 20 --resume auto --checkpoint-dir ck --set checkpoint.every_steps=5 --out resumed.safetensors");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from ck/ckpt-s000000015-e0001.safetensors"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("[rank 1] finished at step 20"), std::string::npos) << "rank 1 resumed too:\n"
                                                                                      << resumed.output;
  expect_same_training_state((d.dir / "straight.safetensors").string(), (d.dir / "resumed.safetensors").string());
}

TEST(CheckpointDdp, ACheckpointLoadsUnderAnotherStrategyAndWorldSize) {
  DdpDir d;
  // Written by 2 ranks at step 15, then loaded by one process (--steps 15: no
  // further step, so the saved state must come back unchanged) and continued.
  ScriptResult ddp = d.launch("--steps 15 --checkpoint-dir ck --set checkpoint.every_steps=15 --out ddp.safetensors");
  ASSERT_EQ(ddp.exit_code, 0) << ddp.output;
  ScriptResult loaded = d.single("--steps 15 --resume ck/ckpt-s000000015-e0001.safetensors --out single.safetensors");
  ASSERT_EQ(loaded.exit_code, 0) << loaded.output;
  expect_same_training_state((d.dir / "ddp.safetensors").string(), (d.dir / "single.safetensors").string(),
                             /*same_loader=*/false);
  ScriptResult continued = d.single("--steps 18 --resume ck/ckpt-s000000015-e0001.safetensors --out c.safetensors");
  ASSERT_EQ(continued.exit_code, 0) << continued.output;
  EXPECT_NE(continued.output.find("finished at step 18"), std::string::npos) << continued.output;
  // And back: one process's checkpoint loads on 2 ranks.
  ScriptResult one = d.single("--steps 6 --checkpoint-dir ck1 --set checkpoint.every_steps=6");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  ScriptResult two = d.launch("--steps 9 --resume ck1/ckpt-s000000006-e0000.safetensors");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("resumed from ck1/ckpt-s000000006-e0000.safetensors (epochs done 0, step 6)"),
            std::string::npos)
      << two.output;
  EXPECT_NE(two.output.find("[rank 1] finished at step 9"), std::string::npos) << two.output;
}

}  // namespace
}  // namespace trainrt::test
