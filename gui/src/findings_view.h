// The validator's findings for one document, as `eci-admin validate` reports them: severity,
// line:column, JSON Pointer, reason. Activating one (click, Enter) asks the editor to select the
// field in the form and the value in the JSON pane.
#pragma once

#include <QTreeWidget>

#include "document.h"

namespace eci::gui {

class FindingsView : public QTreeWidget {
  Q_OBJECT

 public:
  enum Column { kSeverity = 0, kWhere, kPointer, kReason };
  explicit FindingsView(Document* doc, QWidget* parent = nullptr);

  // "error 4:14 /enhancedContainerIsolation/value expected boolean, got string \"yes\"" per row.
  QStringList rowsAsText() const;

 signals:
  void findingActivated(const QString& pointer, eci::settings::Position position);

 private:
  void refresh();
  Document* doc_;
};

}  // namespace eci::gui
