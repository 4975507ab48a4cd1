#include "side_panes.h"

#include <QCheckBox>
#include <QFontDatabase>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "editor_tab.h"
#include "policy_diff.h"

namespace eci::gui {

PolicyPane::PolicyPane(Document* settings, Document* registry, QWidget* parent)
    : QWidget(parent), settings_(settings), registry_(registry) {
  setObjectName(QStringLiteral("policyPane"));
  asJson_ = new QCheckBox(tr("Show as &JSON (eci-admin policy --format json)"), this);
  asJson_->setObjectName(QStringLiteral("policyAsJson"));
  asJson_->setAccessibleName(tr("Show the effective policy as JSON"));
  view_ = new QPlainTextEdit(this);
  view_->setObjectName(QStringLiteral("policyView"));
  view_->setAccessibleName(tr("Effective policy"));
  view_->setReadOnly(true);
  view_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  auto* lay = new QVBoxLayout(this);
  lay->setContentsMargins(2, 2, 2, 2);
  lay->addWidget(asJson_);
  lay->addWidget(view_, 1);
  connect(asJson_, &QCheckBox::toggled, this, &PolicyPane::refresh);
  connect(settings_, &Document::changed, this, &PolicyPane::refresh);
  connect(registry_, &Document::changed, this, &PolicyPane::refresh);
  refresh();
}

void PolicyPane::refresh() {
  // The registry takes part once it is a file or has been edited; an untouched new one is not
  // there, as when `eci-admin policy` runs without --registry.
  const bool withRegistry = !registry_->path().isEmpty() || registry_->modified();
  const auto p = previewPolicy(settings_->report(), withRegistry ? &registry_->report() : nullptr);
  text_ = QString::fromStdString(p.text);
  json_ = QString::fromStdString(p.json);
  view_->setPlainText(asJson_->isChecked() && p.ok ? json_ : text_);
}

QString PolicyPane::policyText() const {
  return text_;
}
QString PolicyPane::policyJson() const {
  return json_;
}

DiffPane::DiffPane(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("diffPane"));
  summary_ = new QLabel(tr("Compare with another file or the deployed copy (File menu)."), this);
  summary_->setObjectName(QStringLiteral("diffSummary"));
  summary_->setWordWrap(true);
  list_ = new QTreeWidget(this);
  list_->setObjectName(QStringLiteral("diffList"));
  list_->setAccessibleName(tr("Differences by JSON Pointer"));
  list_->setRootIsDecorated(false);
  list_->setHeaderLabels({tr("Change"), tr("JSON Pointer"), tr("Other file"), tr("This document")});
  list_->setColumnWidth(0, 80);
  list_->setColumnWidth(1, 300);
  auto* lay = new QVBoxLayout(this);
  lay->setContentsMargins(2, 2, 2, 2);
  lay->addWidget(summary_);
  lay->addWidget(list_, 1);
  auto activate = [this](QTreeWidgetItem* it) {
    if (it != nullptr) emit pointerActivated(it->text(1));
  };
  connect(list_, &QTreeWidget::itemActivated, this, activate);
  connect(list_, &QTreeWidget::itemClicked, this, activate);
}

void DiffPane::setDocument(Document* doc) {
  if (doc_ == doc) return;
  if (doc_ != nullptr) disconnect(doc_, nullptr, this, nullptr);
  doc_ = doc;
  other_.reset();
  otherPath_.clear();
  otherError_.clear();
  if (doc_ != nullptr) connect(doc_, &Document::changed, this, &DiffPane::refresh);
  refresh();
}

bool DiffPane::compareWith(const QString& path) {
  otherPath_ = path;
  other_.reset();
  otherError_.clear();
  auto bytes = readFileBytes(path);
  if (!bytes.ok()) {
    otherError_ = QString::fromStdString(bytes.error().str());
  } else if (auto j = parseOrdered(*bytes); j) {
    other_ = std::move(*j);
  } else {
    otherError_ = tr("%1 is not JSON").arg(path);
  }
  refresh();
  return other_.has_value();
}

void DiffPane::refresh() {
  list_->clear();
  if (otherPath_.isEmpty() || doc_ == nullptr) return;
  if (!other_) {
    summary_->setText(tr("Cannot compare with %1: %2").arg(otherPath_, otherError_));
    return;
  }
  if (!doc_->editable()) {
    summary_->setText(tr("%1 does not parse; fix it to compare.").arg(doc_->label()));
    return;
  }
  const auto diff = diffJson(*other_, doc_->json());
  for (const auto& d : diff) {
    auto* it = new QTreeWidgetItem(list_);
    it->setText(0, QString::fromLatin1(diffKindName(d.kind)));
    it->setText(1, QString::fromStdString(d.pointer));
    it->setText(2, d.before ? QString::fromStdString(d.before->dump()) : QString());
    it->setText(3, d.after ? QString::fromStdString(d.after->dump()) : QString());
  }
  summary_->setText(diff.empty() ? tr("%1 and %2 are the same.").arg(doc_->label(), otherPath_)
                                 : tr("%n difference(s) between %1 and this document:", nullptr,
                                      static_cast<int>(diff.size()))
                                       .arg(otherPath_));
}

int DiffPane::differenceCount() const {
  return list_->topLevelItemCount();
}

QStringList DiffPane::rowsAsText() const {
  QStringList out;
  for (int i = 0; i < list_->topLevelItemCount(); ++i) {
    const auto* it = list_->topLevelItem(i);
    QString row = it->text(0) + QLatin1Char(' ') + it->text(1) + QStringLiteral(": ");
    row += it->text(2);
    if (!it->text(2).isEmpty() && !it->text(3).isEmpty()) row += QStringLiteral(" -> ");
    row += it->text(3);
    out << row;
  }
  return out;
}

}  // namespace eci::gui
