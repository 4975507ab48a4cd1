#include "json_pane.h"

#include <QFontDatabase>
#include <QKeyEvent>
#include <QLabel>
#include <QRegularExpression>
#include <QTextBlock>
#include <QVBoxLayout>

namespace eci::gui {

void JsonHighlighter::highlightBlock(const QString& text) {
  static const QRegularExpression string(QStringLiteral(R"("(?:[^"\\]|\\.)*")"));
  static const QRegularExpression number(QStringLiteral(R"(-?\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b)"));
  static const QRegularExpression literal(QStringLiteral(R"(\b(?:true|false|null)\b)"));
  QTextCharFormat num, lit, key, str;
  num.setForeground(QColor(0x09, 0x86, 0x58));
  lit.setForeground(QColor(0x00, 0x00, 0xc0));
  lit.setFontWeight(QFont::Bold);
  key.setForeground(QColor(0x80, 0x10, 0x80));
  str.setForeground(QColor(0xa3, 0x15, 0x15));
  for (auto it = number.globalMatch(text); it.hasNext();) {
    auto m = it.next();
    setFormat(static_cast<int>(m.capturedStart()), static_cast<int>(m.capturedLength()), num);
  }
  for (auto it = literal.globalMatch(text); it.hasNext();) {
    auto m = it.next();
    setFormat(static_cast<int>(m.capturedStart()), static_cast<int>(m.capturedLength()), lit);
  }
  for (auto it = string.globalMatch(text); it.hasNext();) {
    auto m = it.next();
    const int end = static_cast<int>(m.capturedEnd());
    int j = end;
    while (j < text.size() && text[j].isSpace()) ++j;
    const bool isKey = j < text.size() && text[j] == QLatin1Char(':');
    setFormat(static_cast<int>(m.capturedStart()), static_cast<int>(m.capturedLength()),
              isKey ? key : str);
  }
}

bool JsonEdit::event(QEvent* e) {
  // Undo/redo belong to the document's stack: take the shortcut here so neither the editor's
  // (disabled) undo nor an ambiguous window shortcut swallows it.
  if (e->type() == QEvent::ShortcutOverride) {
    auto* k = static_cast<QKeyEvent*>(e);
    if (k->matches(QKeySequence::Undo) || k->matches(QKeySequence::Redo)) {
      e->accept();
      return true;
    }
  }
  return QPlainTextEdit::event(e);
}

void JsonEdit::keyPressEvent(QKeyEvent* e) {
  if (e->matches(QKeySequence::Undo)) {
    emit undoRequested();
    return;
  }
  if (e->matches(QKeySequence::Redo)) {
    emit redoRequested();
    return;
  }
  QPlainTextEdit::keyPressEvent(e);
}

void JsonEdit::focusOutEvent(QFocusEvent* e) {
  emit focusLost();
  QPlainTextEdit::focusOutEvent(e);
}

JsonPane::JsonPane(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc) {
  edit_ = new JsonEdit(this);
  edit_->setObjectName(QStringLiteral("jsonEdit"));
  edit_->setAccessibleName(tr("JSON text"));
  edit_->setUndoRedoEnabled(false);
  edit_->setLineWrapMode(QPlainTextEdit::NoWrap);
  edit_->setTabChangesFocus(true);  // keyboard users can leave the pane with Tab
  QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);
  edit_->setFont(mono);
  new JsonHighlighter(edit_->document());
  cursorLabel_ = new QLabel(this);
  cursorLabel_->setObjectName(QStringLiteral("jsonCursor"));
  cursorLabel_->setAccessibleName(tr("Cursor line and column"));
  auto* lay = new QVBoxLayout(this);
  lay->setContentsMargins(0, 0, 0, 0);
  lay->addWidget(edit_, 1);
  lay->addWidget(cursorLabel_);

  timer_.setSingleShot(true);
  timer_.setInterval(300);
  connect(&timer_, &QTimer::timeout, this, &JsonPane::flush);
  connect(edit_, &QPlainTextEdit::textChanged, this, [this] {
    if (applying_) return;
    pending_ = true;
    timer_.start();
  });
  connect(edit_, &JsonEdit::focusLost, this, &JsonPane::flush);
  connect(edit_, &JsonEdit::undoRequested, this, [this] {
    flush();
    emit undoRequested();
  });
  connect(edit_, &JsonEdit::redoRequested, this, [this] {
    flush();
    emit redoRequested();
  });
  connect(edit_, &QPlainTextEdit::cursorPositionChanged, this, &JsonPane::updateCursorLabel);
  connect(doc_, &Document::changed, this, &JsonPane::syncFromDocument);
  syncFromDocument();
}

void JsonPane::flush() {
  if (!pending_) return;
  pending_ = false;
  timer_.stop();
  doc_->setTextUndoable(edit_->toPlainText().toStdString(), tr("Edit JSON text"));
}

void JsonPane::syncFromDocument() {
  const QString want = doc_->qtext();
  const QString have = edit_->toPlainText();
  if (want != have) {
    // The document's text wins (undo, reload, form).
    timer_.stop();
    pending_ = false;
    // Replace only the part that differs, in one edit: the cursor and the scroll position stay
    // where the user was whenever the change is elsewhere.
    int prefix = 0;
    const int maxPrefix = static_cast<int>(std::min(want.size(), have.size()));
    while (prefix < maxPrefix && want[prefix] == have[prefix]) ++prefix;
    int suffix = 0;
    while (suffix < maxPrefix - prefix &&
           want[want.size() - 1 - suffix] == have[have.size() - 1 - suffix]) {
      ++suffix;
    }
    applying_ = true;
    QTextCursor c(edit_->document());
    c.setPosition(prefix);
    c.setPosition(static_cast<int>(have.size()) - suffix, QTextCursor::KeepAnchor);
    c.insertText(want.mid(prefix, want.size() - prefix - suffix));
    applying_ = false;
  }
  updateFindingMarks();
}

void JsonPane::updateFindingMarks() {
  QList<QTextEdit::ExtraSelection> marks;
  const QString text = edit_->toPlainText();
  for (const auto& f : doc_->report().findings) {
    if (f.position.line == 0) continue;
    const int off = offsetOf(text, f.position);
    int len = valueExtent(text, off);
    if (len <= 0) len = 1;
    QTextEdit::ExtraSelection s;
    s.cursor = QTextCursor(edit_->document());
    s.cursor.setPosition(off);
    s.cursor.setPosition(std::min<int>(off + len, static_cast<int>(text.size())),
                         QTextCursor::KeepAnchor);
    s.format.setUnderlineStyle(QTextCharFormat::WaveUnderline);
    s.format.setUnderlineColor(
        f.severity == eci::settings::Severity::kError ? Qt::red : QColor(0xd0, 0x80, 0));
    s.format.setToolTip(QString::fromStdString(f.reason));
    marks << s;
  }
  edit_->setExtraSelections(marks);
}

void JsonPane::selectAt(eci::settings::Position pos) {
  const QString text = edit_->toPlainText();
  const int off = offsetOf(text, pos);
  const int len = valueExtent(text, off);
  QTextCursor c(edit_->document());
  c.setPosition(off);
  c.setPosition(off + len, QTextCursor::KeepAnchor);
  edit_->setTextCursor(c);
  edit_->ensureCursorVisible();
}

QString JsonPane::selectedText() const {
  return edit_->textCursor().selectedText();
}

void JsonPane::updateCursorLabel() {
  const QTextCursor c = edit_->textCursor();
  // Columns as the validator counts them: bytes of UTF-8 from the start of the line, 1-based.
  const QString before = c.block().text().left(c.positionInBlock());
  cursorLabel_->setText(
      tr("Line %1, column %2").arg(c.blockNumber() + 1).arg(before.toUtf8().size() + 1));
}

}  // namespace eci::gui
