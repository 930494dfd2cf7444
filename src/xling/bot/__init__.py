"""The multilingual support bot: an FAQ in one language answered in the asker's language.

```python
from xling.bot import SupportBot, build_bot
build_bot("faq.tsv", "my-bot")                     # question<TAB>answer lines, JSONL, or a folder
bot = SupportBot.load("my-bot")
bot.answer("¿Cuánto tarda el envío?").to_dict()    # the entry, its score, the answer in Spanish if stored
```

`xling bot build/ask/tune` and `xling eval bot` are the commands; `xling.bot.faq` reads FAQs and
question sets, `xling.bot.evaluate` scores a bot and chooses its threshold on dev questions.
"""

from xling.bot.bot import (
    DEFAULT_ENCODER,
    DEFAULT_THRESHOLDS,
    BotAnswer,
    BotBuildConfig,
    Candidate,
    SupportBot,
    build_bot,
)
from xling.bot.evaluate import evaluate_bot, tune_threshold
from xling.bot.faq import FaqEntry, read_faq, sample_faq_dir

__all__ = [
    "DEFAULT_ENCODER", "DEFAULT_THRESHOLDS", "BotAnswer", "BotBuildConfig", "Candidate", "FaqEntry", "SupportBot",
    "build_bot", "evaluate_bot", "read_faq", "sample_faq_dir", "tune_threshold",
]  # fmt: skip
