// Resuming through the trainrt binary as a user does (--checkpoint-dir,
// --resume auto): 2N steps straight and N steps + SIGKILL + resume + N steps
// end bitwise equal (mid-epoch, shuffled, with dropout and data workers); a
// process killed between writing a checkpoint and renaming it leaves the
// previous one, which --resume auto picks; keep_last prunes; and every example
// continues where it stopped instead of starting over.
#include <regex>

#include "checkpoint_helpers.h"
#include "lua_script_runner.h"
#include "requirements.h"

namespace trainrt::test {
namespace {

struct ResumeDir {
  std::filesystem::path dir = make_temp_dir();
  ResumeDir() {
    write_training_csv(dir / "data.csv");
    std::ofstream(dir / "resume.lua") << kResumeScript;
  }
  ScriptResult run(const std::string& args, const std::string& env = "") const {
    return run_trainrt("train resume.lua --threads 1 --seed 5 " + args, dir, env);
  }
};

TEST(CheckpointResume, KilledMidEpochAndResumedMatchesAStraightRunBitwise) {
  ResumeDir d;
  for (int workers : {0, 2}) {
    SCOPED_TRACE(workers);
    std::string w = " --workers " + std::to_string(workers);
    std::string ck = " --checkpoint-dir ck" + std::to_string(workers) + " --set checkpoint.every_steps=5";
    ScriptResult straight = d.run("--steps 30 --out straight.safetensors" + w);
    ASSERT_EQ(straight.exit_code, 0) << straight.output;
    // Step 15 is batch 4 of epoch 2 (12 batches an epoch): killed right after its checkpoint.
    ScriptResult killed = d.run("--steps 30 --kill-at 15 --out never.safetensors" + w + ck);
    ASSERT_EQ(killed.exit_code, 128 + 9) << killed.output;
    EXPECT_FALSE(std::filesystem::exists(d.dir / "never.safetensors"));
    ScriptResult resumed = d.run("--steps 30 --resume auto --out resumed.safetensors" + w + ck);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_NE(resumed.output.find("checkpoint: resumed from ck" + std::to_string(workers) +
                                  "/ckpt-s000000015-e0001.safetensors (epochs done 1, step 15)"),
              std::string::npos)
        << resumed.output;
    EXPECT_NE(resumed.output.find("finished at step 30, epoch 3"), std::string::npos) << resumed.output;
    expect_same_training_state((d.dir / "straight.safetensors").string(), (d.dir / "resumed.safetensors").string());
  }
  // The comparison can fail: another seed ends elsewhere.
  ScriptResult other = d.run("--steps 30 --out other.safetensors --seed 6");
  ASSERT_EQ(other.exit_code, 0) << other.output;
  checkpoint::File a = checkpoint::read_file((d.dir / "straight.safetensors").string());
  checkpoint::File b = checkpoint::read_file((d.dir / "other.safetensors").string());
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  EXPECT_NE(a.tensors[0].second.to_vector(), b.tensors[0].second.to_vector());
}

TEST(CheckpointResume, KillBetweenWriteAndRenameLeavesThePreviousCheckpoint) {
  ResumeDir d;
  // Each checkpoint commits two files (state, then model); commit 4 is the
  // model file of the second checkpoint (step 10): killed before its rename.
  ScriptResult killed = d.run("--steps 30 --checkpoint-dir ck --set checkpoint.every_steps=5", "TRAINRT_TEST_KILL_IN_SAVE=4");
  ASSERT_EQ(killed.exit_code, 128 + 9) << killed.output;
  EXPECT_FALSE(std::filesystem::exists(d.dir / "ck/ckpt-s000000010-e0000.safetensors"));
  bool temp_left = false;
  for (const auto& e : std::filesystem::directory_iterator(d.dir / "ck"))
    temp_left = temp_left || e.path().filename().string().find(".tmp-") != std::string::npos;
  EXPECT_TRUE(temp_left) << "the kill should have come between write and rename";
  ScriptResult inspect = run_trainrt("inspect ck/ckpt-s000000005-e0000.safetensors", d.dir);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  ScriptResult resumed = d.run("--steps 12 --resume auto --checkpoint-dir ck --set checkpoint.every_steps=5");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from ck/ckpt-s000000005-e0000.safetensors (epochs done 0, step 5)"),
            std::string::npos)
      << resumed.output;
  // The next save cleaned up the dead process's temporary and the orphaned state file.
  for (const auto& e : std::filesystem::directory_iterator(d.dir / "ck")) {
    std::string name = e.path().filename().string();
    EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
    if (name.find(".state-") != std::string::npos) {
      std::string model = name.substr(0, name.find(".state-")) + ".safetensors";
      EXPECT_TRUE(std::filesystem::exists(d.dir / "ck" / model)) << "orphan " << name;
    }
  }
}

TEST(CheckpointResume, KeepLastPrunesOlderCheckpointsWithTheirStateFiles) {
  ResumeDir d;
  ScriptResult r = d.run("--steps 30 --checkpoint-dir ck --set checkpoint.every_steps=4 --set checkpoint.keep_last=2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(d.dir / "ck")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names.size(), 4u) << ::testing::PrintToString(names);
  // Saves at steps 4, 8, ..., 28 (step 24 ends epoch 2, saved before its end: e0001); the last two remain.
  EXPECT_EQ(names[0], "ckpt-s000000024-e0001.safetensors");
  EXPECT_EQ(names[2], "ckpt-s000000028-e0002.safetensors");
  EXPECT_NE(names[1].find("ckpt-s000000024-e0001.state-"), std::string::npos);
}

TEST(CheckpointResume, BadSettingsAreOneLineAndExit2) {
  ResumeDir d;
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"--resume auto", "trainrt: --resume auto needs --checkpoint-dir DIR, the folder to look in"},
           {"--resume nosuch.safetensors", "trainrt: --resume nosuch.safetensors: no such file"},
           {"--checkpoint-dir ck --set checkpoint.every_steps=0", "checkpoint.every_steps must be a positive integer, got '0'"},
           {"--checkpoint-dir ck --set checkpoint.keep_last=x", "checkpoint.keep_last must be a positive integer, got 'x'"},
           {"--resume", "--resume expects auto|PATH, got nothing"}}) {
    ScriptResult r = d.run("--steps 2 " + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  // A malformed file given to --resume: one line naming it, exit 1.
  std::ofstream(d.dir / "bad.safetensors") << "garbage";
  ScriptResult bad = d.run("--steps 2 --resume bad.safetensors");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("trainrt: --resume: bad.safetensors: 7 bytes: too short"), std::string::npos) << bad.output;
  EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1) << bad.output;
}

// --- the examples ------------------------------------------------------------

int count_epoch_lines(const std::string& output, int epoch) {
  std::regex re("(^|\n)epoch=" + std::to_string(epoch) + " loss=");
  return static_cast<int>(std::distance(std::sregex_iterator(output.begin(), output.end(), re), {}));
}

void expect_example_resumes(const std::string& example) {
  REQUIRE_FASHION_MNIST();
  auto dir = make_temp_dir();
  std::string common = "train " + source_dir() + "/examples/mnist/" + example +
                       " --limit 128 --test-limit 100 --batch-size 64 --threads 1 --checkpoint-dir ck ";
  ScriptResult first = run_trainrt(common + "--epochs 1", dir);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(count_epoch_lines(first.output, 1), 1) << first.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "ck/ckpt-s000000002-e0001.safetensors")) << first.output;
  ScriptResult second = run_trainrt(common + "--epochs 2 --resume auto", dir);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("resumed from ck/ckpt-s000000002-e0001.safetensors (epochs done 1, step 2)"),
            std::string::npos)
      << second.output;
  EXPECT_EQ(count_epoch_lines(second.output, 1), 0) << "epoch 1 ran again:\n" << second.output;
  EXPECT_EQ(count_epoch_lines(second.output, 2), 1) << second.output;
  ScriptResult again = run_trainrt(common + "--epochs 2 --resume auto", dir);  // nothing left to do
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("(epochs done 2, step 4)"), std::string::npos) << again.output;
  EXPECT_EQ(count_epoch_lines(again.output, 2), 0) << again.output;
}

TEST(CheckpointExamples, ExplicitLoopResumes) { expect_example_resumes("train.lua"); }
TEST(CheckpointExamples, FitResumes) { expect_example_resumes("fit.lua"); }
TEST(CheckpointExamples, MlpResumes) { expect_example_resumes("mlp.lua"); }

}  // namespace
}  // namespace trainrt::test
