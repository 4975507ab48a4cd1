#include "form_view.h"

#include <QComboBox>
#include <QCompleter>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QIntValidator>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTreeView>
#include <QVBoxLayout>

#include "eci/settings/commands.h"
#include "eci/settings/image_ref.h"

namespace eci::gui {
namespace {

using Kind = SchemaNode::Kind;

const SchemaNode* sourceNode(const QModelIndex& proxyIndex) {
  const auto* proxy = qobject_cast<const QSortFilterProxyModel*>(proxyIndex.model());
  const QModelIndex src = proxy != nullptr ? proxy->mapToSource(proxyIndex) : proxyIndex;
  const auto* m = qobject_cast<const FormModel*>(src.model());
  return m != nullptr ? m->node(src) : nullptr;
}

QStringList choicesFor(const SchemaNode& n) {
  QStringList out{FormModel::notSet()};
  if (n.valueKind == Kind::kBool) {
    out << QStringLiteral("true") << QStringLiteral("false");
  } else {
    for (const auto& e : n.enumValues) {
      out << (e.is_string() ? QString::fromStdString(e.get<std::string>())
                            : QString::fromStdString(e.dump()));
    }
  }
  return out;
}

}  // namespace

QWidget* ValueDelegate::createEditor(QWidget* parent, const QStyleOptionViewItem& option,
                                     const QModelIndex& index) const {
  const SchemaNode* n = sourceNode(index);
  if (n == nullptr) return QStyledItemDelegate::createEditor(parent, option, index);
  const QString name = QStringLiteral("Value of %1").arg(QString::fromStdString(n->pointer));
  if (n->valueKind == Kind::kBool || n->valueKind == Kind::kEnum) {
    auto* box = new QComboBox(parent);
    box->addItems(choicesFor(*n));
    box->setObjectName(QStringLiteral("valueEditor"));
    box->setAccessibleName(name);
    return box;
  }
  auto* edit = new QLineEdit(parent);
  edit->setObjectName(QStringLiteral("valueEditor"));
  edit->setAccessibleName(name);
  edit->setPlaceholderText(FormModel::notSet());
  if (n->valueKind == Kind::kInteger) {
    edit->setValidator(new QIntValidator(n->minimum ? static_cast<int>(*n->minimum) : INT_MIN,
                                         n->maximum ? static_cast<int>(*n->maximum) : INT_MAX,
                                         edit));
  }
  if (n->listRole == SchemaNode::ListRole::kCommands) {
    QStringList cmds;
    for (const auto& c : eci::settings::knownCommands()) cmds << QString::fromStdString(c);
    auto* comp = new QCompleter(cmds, edit);
    comp->setCaseSensitivity(Qt::CaseInsensitive);
    edit->setCompleter(comp);
  }
  return edit;
}

void ValueDelegate::setEditorData(QWidget* editor, const QModelIndex& index) const {
  const QString v = index.data(Qt::EditRole).toString();
  if (auto* box = qobject_cast<QComboBox*>(editor)) {
    const int i = box->findText(v);
    box->setCurrentIndex(i < 0 ? 0 : i);
  } else if (auto* edit = qobject_cast<QLineEdit*>(editor)) {
    edit->setText(v == FormModel::notSet() ? QString() : v);
  }
}

void ValueDelegate::setModelData(QWidget* editor, QAbstractItemModel* model,
                                 const QModelIndex& index) const {
  if (auto* box = qobject_cast<QComboBox*>(editor)) {
    model->setData(index, box->currentText(), Qt::EditRole);
  } else if (auto* edit = qobject_cast<QLineEdit*>(editor)) {
    const SchemaNode* n = sourceNode(index);
    const bool numeric = n != nullptr && n->valueKind == Kind::kInteger;
    // An empty number means "not set"; an empty string is a value like any other.
    model->setData(index, numeric && edit->text().isEmpty() ? FormModel::notSet() : edit->text(),
                   Qt::EditRole);
  }
}

FormView::FormView(Document* doc, QWidget* parent)
    : QWidget(parent), doc_(doc), model_(new FormModel(doc, this)), filter_(new FormFilter(this)) {
  filter_->setSourceModel(model_);

  search_ = new QLineEdit(this);
  search_->setObjectName(QStringLiteral("formSearch"));
  search_->setAccessibleName(tr("Search settings"));
  search_->setPlaceholderText(tr("Search keys and descriptions (Ctrl+F)"));
  search_->setClearButtonEnabled(true);
  mode_ = new QComboBox(this);
  mode_->setObjectName(QStringLiteral("formFilter"));
  mode_->setAccessibleName(tr("Show settings"));
  mode_->addItems({tr("All settings"), tr("Locked"), tr("Changed"), tr("With findings")});
  auto* showLabel = new QLabel(tr("&Show:"), this);
  showLabel->setBuddy(mode_);

  banner_ = new QLabel(this);
  banner_->setObjectName(QStringLiteral("formBanner"));
  banner_->setWordWrap(true);
  banner_->setStyleSheet(QStringLiteral("QLabel { background: #fff3cd; padding: 4px; }"));

  tree_ = new QTreeView(this);
  tree_->setObjectName(QStringLiteral("formTree"));
  tree_->setAccessibleName(tr("Settings form"));
  tree_->setModel(filter_);
  tree_->setItemDelegateForColumn(FormModel::kValue, new ValueDelegate(tree_));
  tree_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed |
                         QAbstractItemView::AnyKeyPressed);
  tree_->setAlternatingRowColors(true);
  // Cells, not rows: Left/Right move between Setting, Value and Locked for keyboard editing.
  tree_->setSelectionBehavior(QAbstractItemView::SelectItems);
  tree_->setUniformRowHeights(true);
  tree_->header()->setSectionResizeMode(QHeaderView::Interactive);
  tree_->setColumnWidth(FormModel::kSetting, 260);
  tree_->setColumnWidth(FormModel::kValue, 220);
  tree_->setColumnWidth(FormModel::kLocked, 60);
  tree_->expandAll();
  tree_->installEventFilter(this);

  description_ = new QLabel(this);
  description_->setObjectName(QStringLiteral("formDescription"));
  description_->setAccessibleName(tr("Description of the selected setting"));
  description_->setWordWrap(true);
  description_->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
  description_->setMinimumHeight(description_->fontMetrics().height() * 3);

  newEntry_ = new QLineEdit(this);
  newEntry_->setObjectName(QStringLiteral("formNewEntry"));
  newEntry_->setAccessibleName(tr("New list entry"));
  newEntry_->setPlaceholderText(tr("Select a list, type an entry, press Enter (Insert)"));
  auto* entryLabel = new QLabel(tr("New &entry:"), this);
  entryLabel->setBuddy(newEntry_);
  add_ = new QPushButton(tr("&Add"), this);
  add_->setObjectName(QStringLiteral("formAdd"));
  add_->setAccessibleName(tr("Add entry to the selected list"));
  remove_ = new QPushButton(tr("&Remove"), this);
  remove_->setObjectName(QStringLiteral("formRemove"));
  remove_->setAccessibleName(tr("Remove the selected entry or reset the setting (Delete)"));
  hint_ = new QLabel(this);
  hint_->setObjectName(QStringLiteral("formEntryHint"));
  hint_->setAccessibleName(tr("Normalised form or suggestion for the new entry"));
  QStringList cmds;
  for (const auto& c : eci::settings::knownCommands()) cmds << QString::fromStdString(c);
  commandCompleter_ = new QCompleter(cmds, this);
  commandCompleter_->setCaseSensitivity(Qt::CaseInsensitive);

  auto* top = new QHBoxLayout;
  top->addWidget(search_, 1);
  top->addWidget(showLabel);
  top->addWidget(mode_);
  auto* entry = new QHBoxLayout;
  entry->addWidget(entryLabel);
  entry->addWidget(newEntry_, 1);
  entry->addWidget(add_);
  entry->addWidget(remove_);
  auto* lay = new QVBoxLayout(this);
  lay->setContentsMargins(0, 0, 0, 0);
  lay->addLayout(top);
  lay->addWidget(banner_);
  lay->addWidget(tree_, 1);
  lay->addWidget(description_);
  lay->addLayout(entry);
  lay->addWidget(hint_);
  setTabOrder(search_, mode_);
  setTabOrder(mode_, tree_);
  setTabOrder(tree_, newEntry_);
  setTabOrder(newEntry_, add_);
  setTabOrder(add_, remove_);

  connect(search_, &QLineEdit::textChanged, this, [this](const QString& t) {
    filter_->setSearch(t);
    tree_->expandAll();
  });
  connect(mode_, &QComboBox::currentIndexChanged, this, [this](int i) {
    filter_->setMode(static_cast<FormFilter::Mode>(i));
    tree_->expandAll();
  });
  connect(tree_->selectionModel(), &QItemSelectionModel::currentChanged, this, [this] {
    updateDetails();
    updateHint();
    emit currentPointerChanged(currentPointer());
  });
  connect(newEntry_, &QLineEdit::textChanged, this, [this] { updateHint(); });
  connect(newEntry_, &QLineEdit::returnPressed, this, [this] {
    if (addEntry(newEntry_->text())) newEntry_->clear();
  });
  connect(add_, &QPushButton::clicked, this, [this] {
    if (addEntry(newEntry_->text())) newEntry_->clear();
  });
  connect(remove_, &QPushButton::clicked, this, [this] { removeSelected(); });
  connect(model_, &QAbstractItemModel::rowsInserted, this, [this] { tree_->expandAll(); });
  connect(doc_, &Document::changed, this, [this] { updateDetails(); });
  updateDetails();
}

QModelIndex FormView::currentSource() const {
  return filter_->mapToSource(tree_->currentIndex());
}

QString FormView::currentPointer() const {
  return currentSource().sibling(currentSource().row(), 0).data(FormModel::kPointerRole).toString();
}

QString FormView::selectPointer(const QString& pointer) {
  QModelIndex src = model_->indexForPointer(pointer.toStdString());
  if (!src.isValid()) return {};
  QModelIndex proxy = filter_->mapFromSource(src);
  if (!proxy.isValid()) {  // hidden by the search or the filter: show everything again
    search_->clear();
    mode_->setCurrentIndex(0);
    proxy = filter_->mapFromSource(src);
  }
  tree_->expandAll();
  tree_->setCurrentIndex(proxy);
  tree_->selectionModel()->select(proxy,
                                  QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  tree_->scrollTo(proxy);
  return src.data(FormModel::kPointerRole).toString();
}

QModelIndex FormView::listIndex() const {
  QModelIndex cur = currentSource();
  if (!cur.isValid()) return {};
  cur = cur.sibling(cur.row(), 0);
  if (cur.data(FormModel::kIsListRole).toBool()) return cur;
  if (cur.data(FormModel::kIsListItemRole).toBool()) return cur.parent();
  // Inside an entry of an object list (e.g. a file-sharing path): its list.
  for (QModelIndex p = cur.parent(); p.isValid(); p = p.parent()) {
    if (p.data(FormModel::kIsListRole).toBool()) return p;
  }
  return {};
}

bool FormView::addEntry(const QString& rawText) {
  const QString text = rawText.trimmed();
  const QModelIndex list = listIndex();
  if (text.isEmpty() || !list.isValid()) return false;
  const SchemaNode* n = model_->node(list);
  Json value = text.toStdString();
  if (n->kind == Kind::kObjectList) value = Json{{"path", text.toStdString()}};
  const bool ok = doc_->append(n->pointer, value,
                               tr("Add %1 to %2").arg(text, QString::fromStdString(n->pointer)));
  if (ok) {
    const Json* arr = at(doc_->json(), n->pointer);
    if (arr != nullptr && arr->is_array() && !arr->empty()) {
      selectPointer(QString::fromStdString(n->pointer + "/" + std::to_string(arr->size() - 1)));
    }
  }
  return ok;
}

bool FormView::removeSelected() {
  QModelIndex cur = currentSource();
  if (!cur.isValid()) return false;
  cur = cur.sibling(cur.row(), 0);
  const SchemaNode* n = model_->node(cur);
  if (n == nullptr || n->pointer.empty()) return false;
  const bool item = cur.data(FormModel::kIsListItemRole).toBool();
  return doc_->setValue(
      n->pointer, std::nullopt,
      (item ? tr("Remove %1") : tr("Reset %1")).arg(QString::fromStdString(n->pointer)));
}

bool FormView::eventFilter(QObject* obj, QEvent* ev) {
  if (obj == tree_ && ev->type() == QEvent::KeyPress) {
    auto* k = static_cast<QKeyEvent*>(ev);
    if (k->key() == Qt::Key_Delete) {
      removeSelected();
      return true;
    }
    if (k->key() == Qt::Key_Insert) {
      newEntry_->setFocus(Qt::ShortcutFocusReason);
      return true;
    }
  }
  return QWidget::eventFilter(obj, ev);
}

void FormView::updateDetails() {
  const bool editable = doc_->editable();
  banner_->setVisible(!editable);
  if (!editable) {
    const auto& fs = doc_->report().findings;
    QString why =
        fs.empty() ? QString() : QString::fromStdString(eci::settings::formatText(fs.front()));
    banner_->setText(tr("The JSON text does not parse, so the form is read-only until it is "
                        "fixed in the JSON pane. %1")
                         .arg(why));
  }
  const QModelIndex cur = currentSource();
  const SchemaNode* n = cur.isValid() ? model_->node(cur) : nullptr;
  if (n == nullptr) {
    description_->setText(tr("Select a setting to see its description."));
  } else {
    QString d = QString::fromStdString(n->description);
    if (d.isEmpty()) d = tr("(the schema has no description for this setting)");
    description_->setText(QStringLiteral("<b>%1</b> <code>%2</code><br>%3")
                              .arg(QString::fromStdString(n->title).toHtmlEscaped(),
                                   QString::fromStdString(n->pointer).toHtmlEscaped(),
                                   d.toHtmlEscaped()));
  }
  const bool canAdd = editable && listIndex().isValid();
  newEntry_->setEnabled(canAdd);
  add_->setEnabled(canAdd);
  remove_->setEnabled(editable && n != nullptr && !n->pointer.empty());
}

void FormView::updateHint() {
  const QModelIndex list = listIndex();
  const SchemaNode* n = list.isValid() ? model_->node(list) : nullptr;
  const auto role = n != nullptr ? n->listRole : SchemaNode::ListRole::kNone;
  newEntry_->setCompleter(role == SchemaNode::ListRole::kCommands ? commandCompleter_ : nullptr);
  const std::string text = newEntry_->text().trimmed().toStdString();
  QString hint;
  if (!text.empty() && role == SchemaNode::ListRole::kImages) {
    auto p = eci::settings::parseImagePattern(text);
    hint = p.ok() ? tr("Normalised: %1").arg(QString::fromStdString(p->str()))
                  : QString::fromStdString(p.error().str());
  } else if (!text.empty() && role == SchemaNode::ListRole::kCommands) {
    auto c = eci::settings::checkCommand(text);
    hint = c.ok ? tr("Known docker command") : QString::fromStdString(c.reason);
  } else if (!text.empty() && role == SchemaNode::ListRole::kOrgs) {
    hint = QString::fromStdString(text) == QString::fromStdString(text).toLower()
               ? QString()
               : tr("Organisation names are lowercase");
  } else if (!text.empty() && role == SchemaNode::ListRole::kPaths && text.front() != '/') {
    hint = tr("Restricted host mounts are absolute paths");
  }
  hint_->setText(hint);
}

}  // namespace eci::gui
