# lit suite for Birkhoff's compiler side: .mlir files run through birkhoff-opt and FileCheck.
import os

import lit.formats

config.name = "Birkhoff"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.birkhoff_lit_obj_root
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in"]

# birkhoff-opt from this build first, then FileCheck/not from LLVM.
config.environment["PATH"] = os.pathsep.join(
    [config.birkhoff_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")]
)

# %version: CMake's project(VERSION), which `birkhoff --version` prints.
config.substitutions.append(("%version", config.birkhoff_version))

# %tokenizers: the real tokenizers in ../shared/tokenizers; tests that need them
# require the feature `tokenizers`.
config.substitutions.append(("%tokenizers", config.birkhoff_tokenizers_dir))
if os.path.exists(os.path.join(config.birkhoff_tokenizers_dir, "deepseek-v3", "tokenizer.json")):
    config.available_features.add("tokenizers")
