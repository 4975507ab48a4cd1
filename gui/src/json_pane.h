// The raw JSON pane: the document's text, editable, highlighted, with the validator's findings
// underlined at their line:column. Typing is pushed to the document as one undo command per pause
// (300 ms) so the form follows; the editor's own undo is off and Ctrl+Z / Ctrl+Shift+Z go to the
// document's QUndoStack, the one both panes share.
#pragma once

#include <QPlainTextEdit>
#include <QSyntaxHighlighter>
#include <QTimer>

#include "document.h"

class QLabel;

namespace eci::gui {

class JsonHighlighter : public QSyntaxHighlighter {
  Q_OBJECT

 public:
  using QSyntaxHighlighter::QSyntaxHighlighter;

 protected:
  void highlightBlock(const QString& text) override;
};

class JsonEdit : public QPlainTextEdit {
  Q_OBJECT

 public:
  using QPlainTextEdit::QPlainTextEdit;

 signals:
  void undoRequested();
  void redoRequested();
  void focusLost();

 protected:
  bool event(QEvent* e) override;
  void keyPressEvent(QKeyEvent* e) override;
  void focusOutEvent(QFocusEvent* e) override;
};

class JsonPane : public QWidget {
  Q_OBJECT

 public:
  explicit JsonPane(Document* doc, QWidget* parent = nullptr);

  JsonEdit* editor() const { return edit_; }
  // Pushes a pending (not yet debounced) edit to the document now.
  void flush();
  bool pending() const { return pending_; }
  // Selects the JSON value (or key) that starts at line:column (validator positions: bytes).
  void selectAt(eci::settings::Position pos);
  QString selectedText() const;

 signals:
  void undoRequested();
  void redoRequested();

 private:
  void syncFromDocument();
  void updateFindingMarks();
  void updateCursorLabel();

  Document* doc_;
  JsonEdit* edit_;
  QLabel* cursorLabel_;
  QTimer timer_;
  bool applying_ = false;
  bool pending_ = false;  // typed text not yet pushed to the document
};

}  // namespace eci::gui
