// The panes beside the editors: the effective policy (what `eci-admin policy` prints for the two
// open documents, updated as they change) and the diff of a document against another file or the
// deployed copy at this platform's location, by JSON Pointer.
#pragma once

#include <QWidget>
#include <optional>

#include "document.h"

class QCheckBox;
class QLabel;
class QPlainTextEdit;
class QTreeWidget;

namespace eci::gui {

class PolicyPane : public QWidget {
  Q_OBJECT

 public:
  PolicyPane(Document* settings, Document* registry, QWidget* parent = nullptr);
  QString policyText() const;  // the text form, as `eci-admin policy` prints it
  QString policyJson() const;  // `eci-admin policy --format json` ("" without a policy)
  void refresh();

 private:
  Document* settings_;
  Document* registry_;
  QCheckBox* asJson_;
  QPlainTextEdit* view_;
  QString text_, json_;
};

class DiffPane : public QWidget {
  Q_OBJECT

 public:
  explicit DiffPane(QWidget* parent = nullptr);
  void setDocument(Document* doc);
  // Compares the document with the file (left: the file; right: the document).
  bool compareWith(const QString& path);
  int differenceCount() const;
  QStringList rowsAsText() const;  // "changed /x: a -> b"

 signals:
  void pointerActivated(const QString& pointer);

 private:
  void refresh();

  Document* doc_ = nullptr;
  QString otherPath_;
  std::optional<Json> other_;
  QString otherError_;
  QLabel* summary_;
  QTreeWidget* list_;
};

}  // namespace eci::gui
