// One payout run: its figures and where it is (running -> ready -> approved -> settled),
// approval by a second person, the transfer file's download with its recorded SHA-256,
// settlement (paid / failed, failed ones credited back) and the citizens it skipped.
import { download, get, post } from "../api.js";
import { can, person } from "../auth.js";
import { clear, facts, field, form, h, link, notice, toast } from "../dom.js";
import { num, t, when, won, words } from "../i18n.js";
import { confirmMoney, explain, figure, pagedTable, statusBadge } from "../money.js";
import { who } from "./payouts.js";

const STEPS = ["running", "ready", "approved", "settled"];
const SETTLE_LIMIT = 1000;

words({
  ko: {
    "run.title": "{period} 지급 실행",
    "run.back": "← 지급 실행 목록",
    "run.steps": "진행 단계",
    "run.id": "실행 ID",
    "run.status": "상태",
    "run.citizens": "지급 시민",
    "run.total": "지급 합계",
    "run.skippedNoAccount": "제외: 계좌 없음",
    "run.skippedBelow": "제외: 기준 미만",
    "run.chunks": "계산 진행",
    "run.startedBy": "시작한 사람",
    "run.readyAt": "계산 완료",
    "run.approvedBy": "승인한 사람",
    "run.settledAt": "정산 완료",
    "run.paid": "지급됨",
    "run.failed": "실패(환급)",
    "run.pending": "정산 대기",
    "run.runningNote": "계산 중입니다. 이 화면은 몇 초마다 새로 읽습니다.",
    "run.review": "검토와 승인",
    "run.approve": "승인",
    "run.approveTitle": "{period} 지급 실행을 승인할까요?",
    "run.approveText": "{citizens}명에게 {total}을 지급합니다. 승인하면 이체 파일을 내려받을 수 있습니다.",
    "run.approved": "승인했습니다.",
    "run.selfApprove": "이 실행은 내가 시작했으므로 승인할 수 없습니다. 다른 재무 담당자가 승인해야 합니다(작성자 ≠ 승인자).",
    "run.notReady": "검토 대기 상태가 되면 승인할 수 있습니다.",
    "run.approvedNote": "{by}님이 {at}에 승인했습니다.",
    "run.export": "이체 파일",
    "run.exportText": "은행에 보낼 이체 파일(CSV, UTF-8)입니다. 내려받을 때마다 파일의 SHA-256이 실행과 작업 기록에 남습니다.",
    "run.download": "CSV 내려받기",
    "run.downloaded": "내려받음: {name} ({bytes}바이트)",
    "run.sha": "기록된 SHA-256 ({format})",
    "run.noExport": "아직 내려받은 파일이 없습니다.",
    "run.exportLater": "승인된 뒤에 내려받을 수 있습니다.",
    "run.settle": "정산",
    "run.settleText": "은행 결과에 따라 시민 ID를 적으세요(한 줄에 하나 또는 쉼표로 구분, 한 번에 {limit}명까지). 실패한 지급은 시민의 잔액으로 돌려줍니다.",
    "run.settlePaid": "지급된 시민 ID",
    "run.settleFailed": "실패한 시민 ID",
    "run.fromFile": "이체 파일(CSV)의 시민을 '지급됨'에 채우기",
    "run.fromFileHint": "내려받은 이체 파일을 고르면 citizen_id 열을 읽어 채웁니다. 실패한 시민은 '실패'로 옮기세요.",
    "run.filled": "파일에서 {n}명을 채웠습니다.",
    "run.settleButton": "정산 보내기",
    "run.settleTitle": "정산할까요?",
    "run.settleConfirm": "지급됨 {paid}명, 실패 {failed}명. 실패한 지급은 시민의 잔액으로 돌려줍니다. 되돌릴 수 없습니다.",
    "run.settleNone": "시민 ID를 한 명 이상 적으세요.",
    "run.settleTooMany": "한 번에 {limit}명까지 정산할 수 있습니다.",
    "run.settleBoth": "같은 시민이 지급됨과 실패 양쪽에 있습니다: {ids}",
    "run.settled": "정산 반영: 지급됨 {paid}명, 실패 {failed}명, 이미 같은 상태 {unchanged}명.",
    "run.settleLater": "승인된 뒤에 정산할 수 있습니다.",
    "run.settleDone": "모든 항목이 정산되었습니다.",
    "run.named": "해당 시민: {ids}",
    "run.skipped": "지급에서 제외된 시민",
    "run.skippedText": "상담 담당자가 연락할 수 있도록, 지급되지 않은 시민과 그 이유입니다.",
    "run.reason": "이유",
    "run.reason.all": "모두",
    "run.reason.no_account": "지급 계좌 없음",
    "run.reason.below_threshold": "기준(2,000포인트) 미만",
    "run.col.citizen": "시민 ID",
    "run.col.reason": "이유",
    "run.skippedNone": "제외된 시민이 없습니다.",
  },
  en: {
    "run.title": "Payout run {period}",
    "run.back": "← All payout runs",
    "run.steps": "Progress",
    "run.id": "Run id",
    "run.status": "Status",
    "run.citizens": "Citizens paid",
    "run.total": "Total",
    "run.skippedNoAccount": "Skipped: no account",
    "run.skippedBelow": "Skipped: below threshold",
    "run.chunks": "Computed",
    "run.startedBy": "Started by",
    "run.readyAt": "Computed at",
    "run.approvedBy": "Approved by",
    "run.settledAt": "Settled at",
    "run.paid": "Paid",
    "run.failed": "Failed (credited back)",
    "run.pending": "Awaiting settlement",
    "run.runningNote": "The run is being computed; this page reads it again every few seconds.",
    "run.review": "Review and approval",
    "run.approve": "Approve",
    "run.approveTitle": "Approve the payout run for {period}?",
    "run.approveText": "It pays {total} to {citizens} citizens. Once approved, its transfer file can be downloaded.",
    "run.approved": "Approved.",
    "run.selfApprove": "You started this run, so you cannot approve it: another finance person must (maker ≠ checker).",
    "run.notReady": "It can be approved once it awaits review.",
    "run.approvedNote": "Approved by {by} at {at}.",
    "run.export": "Transfer file",
    "run.exportText": "The file for the bank (CSV, UTF-8). Each download records the file's SHA-256 on the run and in the action log.",
    "run.download": "Download CSV",
    "run.downloaded": "Downloaded: {name} ({bytes} bytes)",
    "run.sha": "Recorded SHA-256 ({format})",
    "run.noExport": "No file has been downloaded yet.",
    "run.exportLater": "It can be downloaded once approved.",
    "run.settle": "Settlement",
    "run.settleText": "Enter the citizen ids as the bank reported them (one a line or comma-separated, up to {limit} at once). Failed payouts are credited back to the citizen.",
    "run.settlePaid": "Citizen ids paid",
    "run.settleFailed": "Citizen ids failed",
    "run.fromFile": "Fill 'paid' with the transfer file's (CSV) citizens",
    "run.fromFileHint": "Choose the downloaded transfer file: its citizen_id column fills the list. Move the failed ones to 'failed'.",
    "run.filled": "Filled {n} citizens from the file.",
    "run.settleButton": "Send the settlement",
    "run.settleTitle": "Settle these payouts?",
    "run.settleConfirm": "{paid} paid, {failed} failed. Failed payouts are credited back to the citizens. This cannot be undone.",
    "run.settleNone": "Enter at least one citizen id.",
    "run.settleTooMany": "At most {limit} citizens can be settled at once.",
    "run.settleBoth": "Named both paid and failed: {ids}",
    "run.settled": "Settled: {paid} paid, {failed} failed, {unchanged} already so.",
    "run.settleLater": "It can be settled once approved.",
    "run.settleDone": "Every item is settled.",
    "run.named": "Citizens: {ids}",
    "run.skipped": "Citizens skipped",
    "run.skippedText": "The citizens this run did not pay, and why, so support can reach them.",
    "run.reason": "Reason",
    "run.reason.all": "All",
    "run.reason.no_account": "No payout account",
    "run.reason.below_threshold": "Below the threshold (2,000 points)",
    "run.col.citizen": "Citizen id",
    "run.col.reason": "Reason",
    "run.skippedNone": "No citizen was skipped.",
  },
});

/** Citizen ids from a textarea: one a line or separated by commas/spaces, each once. */
export function ids(text) {
  return [...new Set(String(text || "").split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}

/** The citizen_id column of a transfer CSV (UTF-8 with a BOM, a header row). */
export function csvCitizens(text) {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((line) => line.trim());
  if (!lines.length) return [];
  const header = lines[0].split(",").map((c) => c.replace(/"/g, "").trim());
  const column = Math.max(0, header.indexOf("citizen_id"));
  return lines.slice(1).map((line) => line.split(",")[column].replace(/"/g, "").trim()).filter(Boolean);
}

function refusal(error) {
  const named = (error.details || []).map((d) => d.citizen_id).filter(Boolean);
  return named.length ? `${explain(error)} ${t("run.named", { ids: named.join(", ") })}` : explain(error);
}

export default async function render(view, ctx) {
  const id = ctx.params.id;
  const path = `/v1/admin/payout-runs/${encodeURIComponent(id)}`;
  const run = await get(path, undefined, { signal: ctx.signal });
  const me = person();

  view.append(
    h("p", {}, link("#/payouts", t("run.back"))),
    h("h1", {}, t("run.title", { period: run.period })),
    h("ol", { class: "steps", "aria-label": t("run.steps") },
      STEPS.map((step, i) => h("li", {
        class: [i < STEPS.indexOf(run.status) && "done", step === run.status && "current"],
        "aria-current": step === run.status ? "step" : null,
      }, t(`status.${step}`)))),
    h("div", { class: "cards" },
      figure(t("run.status"), statusBadge(run.status)),
      figure(t("run.citizens"), num(run.citizens)),
      figure(t("run.total"), won(run.total_points)),
      figure(t("run.pending"), num(run.settlement.pending)),
    ),
    facts([
      [t("run.id"), run.run_id],
      [t("run.skippedNoAccount"), num(run.skipped.no_account)],
      [t("run.skippedBelow"), num(run.skipped.below_threshold)],
      [t("run.chunks"), `${num(run.chunks.done)} / ${num(run.chunks.expected)}`],
      [t("run.startedBy"), `${who(run.started_by)} · ${when(run.started_at)}`],
      [t("run.readyAt"), when(run.ready_at)],
      [t("run.approvedBy"), run.approved_by ? `${run.approved_by} · ${when(run.approved_at)}` : null],
      [t("run.paid"), `${num(run.settlement.paid)} · ${won(run.settlement.paid_points)}`],
      [t("run.failed"), `${num(run.settlement.failed)} · ${won(run.settlement.failed_points)}`],
      [t("run.settledAt"), when(run.settled_at)],
    ]),
  );

  if (run.status === "running") {
    view.append(notice(t("run.runningNote")));
    const timer = setTimeout(ctx.refresh, 2000);
    ctx.onLeave(() => clearTimeout(timer));
  }

  // Review and approval (maker != checker).
  const review = h("section", { class: "card", "aria-labelledby": "run-review" }, h("h2", { id: "run-review" }, t("run.review")));
  view.append(review);
  if (run.approved_by) {
    review.append(h("p", {}, t("run.approvedNote", { by: run.approved_by, at: when(run.approved_at) })));
  } else if (run.status !== "ready") {
    review.append(h("p", {}, t("run.notReady")));
  } else if (me && run.started_by === me.sub) {
    review.append(
      h("button", { type: "button", class: "primary", disabled: true, "aria-describedby": "self-approve" }, t("run.approve")),
      h("p", { class: "hint", id: "self-approve" }, t("run.selfApprove")),
    );
  } else {
    review.append(form({}, [h("button", { type: "submit", class: "primary" }, t("run.approve"))], async () => {
      const sure = await confirmMoney(
        t("run.approveTitle", { period: run.period }),
        t("run.approveText", { total: won(run.total_points), citizens: num(run.citizens) }),
        t("run.approve"),
      );
      if (!sure) return;
      await post(`${path}/approve`);
      toast(t("run.approved"), "ok");
      ctx.refresh();
    }, { errorText: explain }));
  }

  // The transfer file.
  const exported = h("section", { class: "card", "aria-labelledby": "run-export" },
    h("h2", { id: "run-export" }, t("run.export")), h("p", {}, t("run.exportText")));
  view.append(exported);
  const approved = run.status === "approved" || run.status === "settled";
  const shas = h("div", {});
  const drawShas = (exports) => {
    const entries = Object.entries(exports || {});
    clear(shas).append(entries.length
      ? facts(entries.map(([format, record]) => [t("run.sha", { format }), h("code", { class: "sha" }, record.sha256)]))
      : h("p", {}, t("run.noExport")));
  };
  drawShas(run.exports);
  if (approved) {
    const got = h("p", { role: "status" });
    exported.append(form({}, [h("button", { type: "submit" }, t("run.download"))], async () => {
      const file = await download(`${path}/export?format=csv`, `${run.run_id}.csv`);
      got.textContent = t("run.downloaded", { name: file.name, bytes: num(file.bytes) });
      drawShas((await get(path, undefined, { signal: ctx.signal })).exports);
    }, { errorText: explain }), got);
  } else {
    exported.append(h("p", {}, t("run.exportLater")));
  }
  exported.append(shas);

  // Settlement.
  const settle = h("section", { class: "card", "aria-labelledby": "run-settle" }, h("h2", { id: "run-settle" }, t("run.settle")));
  view.append(settle);
  if (!approved) {
    settle.append(h("p", {}, t("run.settleLater")));
  } else if (run.settlement.pending === 0) {
    settle.append(h("p", {}, t("run.settleDone")));
  } else {
    const paid = h("textarea", { name: "paid", rows: 4, spellcheck: "false", autocomplete: "off" });
    const failed = h("textarea", { name: "failed", rows: 3, spellcheck: "false", autocomplete: "off" });
    const file = h("input", { type: "file", accept: ".csv,text/csv" });
    const filled = h("p", { role: "status", class: "hint" });
    file.addEventListener("change", async () => {
      const chosen = file.files?.[0];
      if (!chosen) return;
      const found = csvCitizens(await chosen.text());
      paid.value = found.join("\n");
      filled.textContent = t("run.filled", { n: num(found.length) });
    });
    settle.append(
      h("p", {}, t("run.settleText", { limit: num(SETTLE_LIMIT) })),
      field(t("run.fromFile"), file, t("run.fromFileHint")), filled,
      form({}, [
        field(t("run.settlePaid"), paid),
        field(t("run.settleFailed"), failed),
        h("button", { type: "submit", class: "primary" }, t("run.settleButton")),
      ], async (data, el) => {
        const body = { paid: ids(data.get("paid")), failed: ids(data.get("failed")) };
        const both = body.paid.filter((c) => body.failed.includes(c));
        if (!body.paid.length && !body.failed.length) throw new Error(t("run.settleNone"));
        if (both.length) throw new Error(t("run.settleBoth", { ids: both.join(", ") }));
        if (body.paid.length > SETTLE_LIMIT || body.failed.length > SETTLE_LIMIT) {
          throw new Error(t("run.settleTooMany", { limit: num(SETTLE_LIMIT) }));
        }
        const sure = await confirmMoney(t("run.settleTitle"),
          t("run.settleConfirm", { paid: num(body.paid.length), failed: num(body.failed.length) }), t("run.settleButton"));
        if (!sure) return;
        const done = await post(`${path}/settle`, body);
        const message = t("run.settled", { paid: num(done.applied.paid), failed: num(done.applied.failed), unchanged: num(done.unchanged) });
        el.reset();
        toast(message, "ok");
        ctx.refresh();
      }, { errorText: refusal }),
    );
  }

  // The citizens skipped, by reason.
  const reason = h("select", { name: "reason" },
    ["all", "no_account", "below_threshold"].map((r) => h("option", { value: r }, t(`run.reason.${r}`))));
  const holder = h("div", {});
  const skipped = h("section", { "aria-labelledby": "run-skipped" },
    h("h2", { id: "run-skipped" }, t("run.skipped")), h("p", {}, t("run.skippedText")),
    h("div", { class: "row" }, field(t("run.reason"), reason)), holder);
  view.append(skipped);
  const showSkipped = async () => {
    const list = pagedTable({
      caption: `${t("run.skipped")}: ${t(`run.reason.${reason.value}`)}`,
      path: `${path}/skipped`,
      query: { reason: reason.value, limit: 50 },
      key: "skipped",
      signal: ctx.signal,
      empty: t("run.skippedNone"),
      columns: [
        { label: t("run.col.citizen"), cell: (s) => (can("citizens") ? link(`#/citizens/${encodeURIComponent(s.citizen_id)}`, s.citizen_id) : s.citizen_id) },
        { label: t("run.col.reason"), cell: (s) => t(`run.reason.${s.reason}`) },
      ],
    });
    holder.replaceChildren(list.element);
    await list.reload();
  };
  reason.addEventListener("change", () => showSkipped().catch((error) => holder.replaceChildren(notice(explain(error), "error"))));
  await showSkipped();
}
