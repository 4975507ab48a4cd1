#include "findings_view.h"

#include <QApplication>
#include <QHeaderView>
#include <QStyle>

namespace eci::gui {

FindingsView::FindingsView(Document* doc, QWidget* parent) : QTreeWidget(parent), doc_(doc) {
  setObjectName(QStringLiteral("findings"));
  setAccessibleName(tr("Validator findings"));
  setRootIsDecorated(false);
  setUniformRowHeights(true);
  setColumnCount(4);
  setHeaderLabels({tr("Severity"), tr("Line:col"), tr("JSON Pointer"), tr("Reason")});
  header()->setSectionResizeMode(kReason, QHeaderView::Stretch);
  setColumnWidth(kSeverity, 90);
  setColumnWidth(kWhere, 80);
  setColumnWidth(kPointer, 320);
  auto activate = [this](QTreeWidgetItem* item) {
    if (item == nullptr) return;
    eci::settings::Position pos;
    pos.line = item->data(kWhere, Qt::UserRole).toUInt();
    pos.column = item->data(kWhere, Qt::UserRole + 1).toUInt();
    emit findingActivated(item->text(kPointer), pos);
  };
  connect(this, &QTreeWidget::itemClicked, this, activate);
  connect(this, &QTreeWidget::itemActivated, this, activate);
  connect(doc_, &Document::changed, this, &FindingsView::refresh);
  refresh();
}

void FindingsView::refresh() {
  clear();
  const auto* style = QApplication::style();
  for (const auto& f : doc_->report().findings) {
    auto* item = new QTreeWidgetItem(this);
    const bool err = f.severity == eci::settings::Severity::kError;
    item->setText(kSeverity, QString::fromLatin1(eci::settings::severityName(f.severity)));
    item->setIcon(kSeverity, style->standardIcon(err ? QStyle::SP_MessageBoxCritical
                                                     : QStyle::SP_MessageBoxWarning));
    item->setText(kWhere,
                  f.position.line == 0
                      ? QStringLiteral("-")
                      : QStringLiteral("%1:%2").arg(f.position.line).arg(f.position.column));
    item->setData(kWhere, Qt::UserRole, f.position.line);
    item->setData(kWhere, Qt::UserRole + 1, f.position.column);
    item->setText(kPointer, QString::fromStdString(f.pointer));
    item->setText(kReason, QString::fromStdString(f.reason));
    item->setToolTip(kReason, QString::fromStdString(eci::settings::formatText(f)));
  }
  if (doc_->report().findings.empty()) {
    auto* item = new QTreeWidgetItem(this);
    item->setText(kSeverity, tr("ok"));
    item->setText(kReason, tr("%1 is valid: no findings").arg(doc_->label()));
    item->setFlags(Qt::ItemIsEnabled);
  }
}

QStringList FindingsView::rowsAsText() const {
  QStringList out;
  for (int i = 0; i < topLevelItemCount(); ++i) {
    const auto* it = topLevelItem(i);
    out << QStringLiteral("%1 %2 %3 %4")
               .arg(it->text(kSeverity), it->text(kWhere), it->text(kPointer), it->text(kReason));
  }
  return out;
}

}  // namespace eci::gui
