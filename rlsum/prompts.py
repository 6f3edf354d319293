"""The summarization instruction, one definition for every place that asks for a summary.

RL training (the `prompt` column written by `python -m rlsum.data prepare`), the embedded
trainer and offline summarization all build the actor's input with
`summarization_messages`, so the policy is trained and used on the same prompt. The
messages are plain chat messages; whoever runs the actor applies its chat template.
"""

from __future__ import annotations

SUMMARIZE_INSTRUCTION = (
    "Summarize the job posting below in a few short sentences. Keep what a job searcher "
    "filters on: the job title and seniority, the location and remote policy (remote, "
    "hybrid or on-site), and the key skills and technologies required. Leave out benefits, "
    "company boilerplate and application instructions. Answer with the summary only, in "
    "plain text, with no preamble, headings or lists."
)


# The evaluation baseline: what a user would type without any prompt engineering.
PLAIN_SUMMARIZE_INSTRUCTION = "Summarize the following job posting."

PROMPTS = {"trained": SUMMARIZE_INSTRUCTION, "plain": PLAIN_SUMMARIZE_INSTRUCTION}


def summarization_messages(item_text: str, instruction: str = SUMMARIZE_INSTRUCTION) -> list[dict[str, str]]:
    """Chat messages asking the actor to summarize one posting: a single user message,
    the instruction, a blank line, then the posting's full text."""
    return [{"role": "user", "content": f"{instruction}\n\nJob posting:\n{item_text}"}]
