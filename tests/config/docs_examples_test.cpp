// Every ```yaml block in README.md and docs/*.md must load: examples in the
// docs cannot rot (docs_blocks.hpp completes fragments).
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "tests/config/docs_blocks.hpp"

namespace fieldbridge::config {
namespace {

TEST(docs_examples, every_yaml_block_in_the_docs_loads) {
    std::size_t checked = 0;
    for (const auto& doc : testing::docs_documents(FIELDBRIDGE_SOURCE_DIR)) {
        try {
            load_string(doc.text, doc.where);
        } catch (const config_error& e) {
            ADD_FAILURE() << doc.where << ": the example does not load:\n" << e.what() << "\n" << doc.text;
        }
        ++checked;
    }
    // README has a full example; configuration.md has several fragments.
    EXPECT_GE(checked, 3u);
}

}  // namespace
}  // namespace fieldbridge::config
