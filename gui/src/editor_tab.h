// One document's editor: the generated form and the raw JSON pane side by side (one undo stack),
// the findings below, and the watch on the file on disk: when another program changes or replaces
// it, a bar offers Reload (undoable), Merge (their changes where ours did not touch the same
// pointer) or Keep mine.
#pragma once

#include <QFileSystemWatcher>
#include <QWidget>

#include "document.h"
#include "eci/error.h"

class QLabel;
class QPushButton;
class QSplitter;

namespace eci::gui {

class FormView;
class JsonPane;
class FindingsView;

// Bounded read of a whole file (the validator's own 4 MiB cap plus slack for findings about it).
eci::Result<std::string> readFileBytes(const QString& path);
// UTF-8 without BOM, atomically (QSaveFile: a temp file renamed over the target on commit).
eci::Status writeFileAtomically(const QString& path, std::string bytes);

class EditorTab : public QWidget {
  Q_OBJECT

 public:
  explicit EditorTab(eci::settings::FileKind kind, QWidget* parent = nullptr);

  Document* document() const { return doc_; }
  FormView* form() const { return form_; }
  JsonPane* json() const { return json_; }
  FindingsView* findings() const { return findings_; }
  QWidget* externalChangeBar() const { return bar_; }

  // Selects the field in the form and the value (or key) in the JSON text.
  void showFinding(const QString& pointer, eci::settings::Position pos);
  // Moves to the next finding (wrapping); false when there is none.
  bool nextFinding();

  // Loads `bytes` read from `path` and starts watching it.
  void loadFrom(const QString& path, std::string bytes);
  // Flushes the JSON pane, writes the document to `path` and watches it. Does not ask anything.
  eci::Status saveTo(const QString& path);

  void reloadFromDisk();
  void mergeFromDisk();
  void keepMine();

 signals:
  void externalChangeDetected(const QString& path);

 private:
  void watch();
  void onDiskEvent();

  Document* doc_;
  FormView* form_;
  JsonPane* json_;
  FindingsView* findings_;
  QSplitter* split_;
  QWidget* bar_;
  QLabel* barText_;
  QFileSystemWatcher watcher_;
  std::string diskBytes_;
  int findingCursor_ = -1;
};

}  // namespace eci::gui
