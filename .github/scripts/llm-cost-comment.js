// Posts or updates the one pull-request comment of pytest-llmcost, from the summary.md that
// `llm-cost report` wrote. Called from actions/github-script@v7:
//
//   const comment = require("./.github/scripts/llm-cost-comment.js");
//   await comment({ github, context, core });                          // the pull_request workflow
//   await comment.fromArtifact({ github, context, core }, "folder");   // llm-cost-comment.yml (forks)
//
// Settings come from the step's environment:
//   LLM_COST_SUMMARY   the summary.md to post
//   LLM_COST_CHANGED   "true" or "false", the `changed` output of `llm-cost report` (empty: unknown,
//                      counted as changed)
//   LLM_COST_COMMENT   changed (default): comment when the cost changed against the base branch,
//                      and keep an earlier comment of this workflow up to date; always; never
//   LLM_COST_KEY       tells this project's comment apart from others on the same pull request
//   LLM_COST_COMMENT_AUTHOR   whose comments count as this workflow's (default github-actions[bot])
//
// A comment counts as this workflow's only when its body holds the marker AND its author is the
// bot that runs the workflow: a look-alike comment from anyone else is never edited.
"use strict";

const fs = require("fs");
const path = require("path");

const LIMIT = 65536; // GitHub refuses a comment body longer than this
const POLICIES = ["changed", "always", "never"];
const DEFAULT_AUTHOR = "github-actions[bot]";
const CLI_MARKER = "<!-- pytest-llmcost:summary -->";
const KEY_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

function markerFor(key) {
  return `<!-- pytest-llmcost:comment ${key} -->`;
}

function isOwn(comment, marker, author) {
  return Boolean(
    comment.body &&
      comment.body.includes(marker) &&
      comment.user &&
      comment.user.login === author &&
      comment.user.type === "Bot",
  );
}

// The comment's body: the marker of this project, then the summary (its own marker line replaced,
// so the body is no longer than the summary the CLI sized, but for the key).
function bodyFor(summary, marker) {
  const rest = summary.startsWith(`${CLI_MARKER}\n`) ? summary.slice(CLI_MARKER.length + 1) : summary;
  return `${marker}\n${rest}`;
}

function checkSettings(core, { policy, key }) {
  if (!POLICIES.includes(policy)) {
    core.setFailed(`LLM_COST_COMMENT is "${policy}": set it to changed, always or never`);
    return false;
  }
  if (!KEY_PATTERN.test(key)) {
    core.setFailed(`LLM_COST_KEY is "${key}": use letters, digits, '.', '_' and '-' only (at most 100)`);
    return false;
  }
  return true;
}

// Create, update or leave the comment. Returns what it did: "created", "updated", "unchanged",
// "skipped" or "refused".
async function post({ github, context, core }, { issueNumber, summaryPath, changed, policy, key, author }) {
  if (policy === "never") {
    core.info("LLM_COST_COMMENT is never: no comment");
    return "skipped";
  }
  if (!fs.existsSync(summaryPath)) {
    core.warning(`${summaryPath} does not exist: the cost report did not run, so there is nothing to post`);
    return "skipped";
  }
  const marker = markerFor(key);
  const body = bodyFor(fs.readFileSync(summaryPath, "utf8"), marker);
  if (body.length > LIMIT) {
    core.setFailed(
      `${summaryPath} makes a comment of ${body.length} characters, over GitHub's limit of ${LIMIT}: ` +
        "not posted; the full report is in the run's artifact",
    );
    return "refused";
  }
  const { owner, repo } = context.repo;
  const comments = await github.paginate(github.rest.issues.listComments, {
    owner,
    repo,
    issue_number: issueNumber,
    per_page: 100,
  });
  const own = comments.find((comment) => isOwn(comment, marker, author));
  if (own) {
    if (own.body === body) {
      core.info(`comment ${own.html_url || own.id} already says this`);
      return "unchanged";
    }
    // Even when nothing changed now: an earlier comment must not stay stale.
    await github.rest.issues.updateComment({ owner, repo, comment_id: own.id, body });
    core.info(`updated comment ${own.html_url || own.id}`);
    return "updated";
  }
  if (policy === "changed" && changed === false) {
    core.info("LLM cost is unchanged against the base branch: no comment (LLM_COST_COMMENT is changed)");
    return "skipped";
  }
  const { data } = await github.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body });
  core.info(`created comment ${(data && data.html_url) || ""}`.trim());
  return "created";
}

function parseChanged(value) {
  if (value === "true" || value === true) return true;
  if (value === "false" || value === false) return false;
  return null; // unknown: counted as changed
}

// The pull_request workflow: comment on the pull request that triggered it.
async function comment({ github, context, core }, env = process.env) {
  const settings = {
    issueNumber: context.issue.number,
    summaryPath: env.LLM_COST_SUMMARY || ".llm-cost/summary.md",
    changed: parseChanged(env.LLM_COST_CHANGED),
    policy: env.LLM_COST_COMMENT || "changed",
    key: env.LLM_COST_KEY || "root",
    author: env.LLM_COST_COMMENT_AUTHOR || DEFAULT_AUTHOR,
  };
  if (!checkSettings(core, settings)) return "refused";
  const action = await post({ github, context, core }, settings);
  core.setOutput("action", action);
  return action;
}

// llm-cost-comment.yml (workflow_run): comment from the folder the pull_request run uploaded for a
// fork pull request (comment.json + summary.md). That run executed the fork's code, so nothing in
// the folder is trusted: the number must be a pull request whose head is the commit that run tested.
async function fromArtifact({ github, context, core }, folder, env = process.env) {
  const file = path.join(folder, "comment.json");
  let meta;
  try {
    meta = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    core.setFailed(`${file}: cannot read the comment request (${error.message})`);
    return "refused";
  }
  const issueNumber = meta && meta.pr;
  if (!Number.isInteger(issueNumber) || issueNumber < 1) {
    core.setFailed(`${file}: "pr" is ${JSON.stringify(issueNumber)}, not a pull request number`);
    return "refused";
  }
  const run = context.payload.workflow_run;
  const { owner, repo } = context.repo;
  const { data: pull } = await github.rest.pulls.get({ owner, repo, pull_number: issueNumber });
  if (!run || !pull.head || pull.head.sha !== run.head_sha) {
    core.info(
      `pull request #${issueNumber} is at ${pull.head && pull.head.sha}, the run tested ${run && run.head_sha}: ` +
        "no comment (a newer run comments)",
    );
    return "skipped";
  }
  const settings = {
    issueNumber,
    summaryPath: path.join(folder, "summary.md"),
    changed: parseChanged(meta.changed),
    policy: String(meta.comment || "changed"),
    key: String(meta.key || "root"),
    author: env.LLM_COST_COMMENT_AUTHOR || DEFAULT_AUTHOR,
  };
  if (!checkSettings(core, settings)) return "refused";
  const action = await post({ github, context, core }, settings);
  core.setOutput("action", action);
  return action;
}

module.exports = comment;
module.exports.fromArtifact = fromArtifact;
module.exports.markerFor = markerFor;
module.exports.LIMIT = LIMIT;
