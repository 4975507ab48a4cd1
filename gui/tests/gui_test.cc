// QTest suites of eci-admin-gui, run headless (offscreen platform) by CTest and once on Xvfb.
// They drive the real window: keystrokes into the JSON pane and the form, clicks on findings,
// files on disk changed behind its back, and the built eci-admin run on what it saved.
#include <QAbstractItemModelTester>
#include <QApplication>
#include <QComboBox>
#include <QDebug>
#include <QDir>
#include <QDirIterator>
#include <QDockWidget>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStyleFactory>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBlock>
#include <QTreeView>
#include <QUndoGroup>

#include "findings_view.h"
#include "form_view.h"
#include "gui_test_util.h"
#include "json_pane.h"
#include "main_window.h"
#include "policy_diff.h"
#include "side_panes.h"

using namespace eci::gui;
using namespace eci::gui::test;

namespace {

const QString kExample = QStringLiteral(ECI_GUI_EXAMPLES_DIR "/admin-settings.json");

// The seeds' example with one key the schema does not know, to prove it survives a save.
QByteArray exampleWithUnknownKey() {
  QByteArray b = readText(kExample).toUtf8();
  b.replace(0, 2, "{\n  \"x-company-note\": \"kept as is\",\n");
  return b;
}

// Puts the cursor on the `nth` (0-based) occurrence of `needle`, selects it, types `replacement`.
void typeOver(JsonEdit* edit, const QString& needle, const QString& replacement, int nth = 0) {
  const QString text = edit->toPlainText();
  int pos = -1;
  for (int i = 0; i <= nth; ++i) pos = text.indexOf(needle, pos + 1);
  QVERIFY2(pos >= 0, qPrintable(needle));
  QTextCursor c(edit->document());
  c.setPosition(pos);
  c.setPosition(pos + static_cast<int>(needle.size()), QTextCursor::KeepAnchor);
  edit->setTextCursor(c);
  edit->setFocus();
  QTest::keyClicks(edit, replacement);
  if (qEnvironmentVariableIsSet("ECI_GUI_DEBUG"))
    qWarning() << "after typing:" << edit->toPlainText();
}

QModelIndex proxyIndexOf(FormView* form, const QString& pointer, int column) {
  const QModelIndex src = form->model()->indexForPointer(pointer.toStdString());
  return form->filter()->mapFromSource(src.sibling(src.row(), column));
}

QString artefactsDir() {
  QDir().mkpath(QStringLiteral(ECI_GUI_ARTEFACTS_DIR));
  return QStringLiteral(ECI_GUI_ARTEFACTS_DIR);
}

}  // namespace

class GuiTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void formCoversEverySchemaSetting();
  void authoringSession();
  void undoRedoAcrossPanes();
  void externalChangeReloadAndMerge();
  void invalidSaveNeedsConfirmation();
  void policyPreviewEqualsCli();
  void diffByPointer();
  void importOrgsFromProfile();
  void keyboardOnlyAndAccessibleNames();
  void exportsEqualCli();
  void screenshotsShowContent();

 private:
  QTemporaryDir tmp_;
};

void GuiTest::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
  QApplication::setOrganizationName(QStringLiteral("eci-test"));
  QApplication::setApplicationName(QStringLiteral("eci-admin-gui-test"));
  QVERIFY(tmp_.isValid());
}

// Every property of both schemas has a row at its pointer, and the model is consistent.
void GuiTest::formCoversEverySchemaSetting() {
  for (auto kind : {eci::settings::FileKind::kAdminSettings, eci::settings::FileKind::kRegistry}) {
    Document doc(kind);
    FormModel model(&doc);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const auto schema = nlohmann::json::parse(kind == eci::settings::FileKind::kRegistry
                                                  ? eci::settings::registrySchemaText()
                                                  : eci::settings::adminSettingsSchemaText());
    int checked = 0;
    std::function<void(const nlohmann::json&, const std::string&)> walk =
        [&](const nlohmann::json& s, const std::string& ptr) {
          const nlohmann::json* node = &s;
          if (node->contains("$ref")) {
            const std::string ref = (*node)["$ref"];
            node = &schema["definitions"][ref.substr(std::string("#/definitions/").size())];
          }
          if (!node->contains("properties")) return;
          for (auto it = (*node)["properties"].begin(); it != (*node)["properties"].end(); ++it) {
            const std::string p = ptr + "/" + it.key();
            const QModelIndex idx = model.indexForPointer(p);
            QVERIFY2(idx.isValid(), p.c_str());
            // locked/value are shown on their setting's row (lock toggle, value cell).
            const QString rowPtr = idx.data(FormModel::kPointerRole).toString();
            if (it.key() == "locked" || it.key() == "value") {
              QCOMPARE(rowPtr.toStdString(), ptr);
            } else {
              QCOMPARE(rowPtr.toStdString(), p);
              if (it.value().contains("description")) {
                QCOMPARE(idx.data(FormModel::kDescriptionRole).toString().toStdString(),
                         it.value()["description"].get<std::string>());
              }
            }
            ++checked;
            walk(it.value(), p);
          }
        };
    walk(schema, "");
    QVERIFY(checked >= (kind == eci::settings::FileKind::kRegistry ? 1 : 60));
  }
}

void GuiTest::authoringSession() {
  const QString settingsPath = tmp_.filePath(QStringLiteral("session/admin-settings.json"));
  const QString registryPath = tmp_.filePath(QStringLiteral("session/registry.json"));
  QDir().mkpath(tmp_.filePath(QStringLiteral("session")));
  writeText(settingsPath, exampleWithUnknownKey());

  MainWindow w;
  w.show();
  QVERIFY(w.openFile(settingsPath, false));
  EditorTab* tab = w.settingsTab();
  Document* doc = tab->document();
  QVERIFY(doc->report().valid());

  // Break a value in the JSON pane: ECI's "value": true (the second "true") becomes "yes".
  typeOver(tab->json()->editor(), QStringLiteral("true"), QStringLiteral("\"yes\""), 1);
  const QString expected = QStringLiteral(
      "error 6:14 /enhancedContainerIsolation/value expected boolean, got string \"yes\"");
  QTRY_VERIFY2_WITH_TIMEOUT(tab->findings()->rowsAsText().contains(expected),
                            qPrintable(tab->findings()->rowsAsText().join('\n')), 3000);
  QVERIFY(!doc->report().valid());

  // Click the finding: the form selects the ECI setting, the JSON pane the offending value.
  FindingsView* fv = tab->findings();
  QTreeWidgetItem* item = nullptr;
  for (int i = 0; i < fv->topLevelItemCount(); ++i) {
    if (fv->topLevelItem(i)->text(FindingsView::kPointer) == "/enhancedContainerIsolation/value") {
      item = fv->topLevelItem(i);
    }
  }
  QVERIFY(item != nullptr);
  fv->scrollToItem(item);
  QTest::mouseClick(fv->viewport(), Qt::LeftButton, {}, fv->visualItemRect(item).center());
  QCOMPARE(tab->form()->currentPointer(), QStringLiteral("/enhancedContainerIsolation"));
  QCOMPARE(tab->json()->selectedText(), QStringLiteral("\"yes\""));

  // Fix it in the form with the keyboard: F2 on the value cell, pick "true", Enter.
  QTreeView* tree = tab->form()->tree();
  tree->setFocus();
  tree->setCurrentIndex(
      proxyIndexOf(tab->form(), "/enhancedContainerIsolation", FormModel::kValue));
  QTest::keyClick(tree, Qt::Key_F2);
  auto* combo = tree->findChild<QComboBox*>(QStringLiteral("valueEditor"));
  QVERIFY(combo != nullptr);
  combo->setCurrentIndex(combo->findText(QStringLiteral("true")));
  QTest::keyClick(combo, Qt::Key_Return);
  QTRY_VERIFY(doc->report().valid());
  QCOMPARE(at(doc->json(), "/enhancedContainerIsolation/value")->get<bool>(), true);
  QVERIFY(doc->qtext().contains("\"value\": true"));

  // Add an image: the hint shows its normalised form before it is added, the row after.
  tab->form()->selectPointer("/enhancedContainerIsolation/dockerSocketMount/imageList/images");
  QLineEdit* entry = tab->form()->newEntryField();
  QVERIFY(entry->isEnabled());
  entry->setFocus();
  QTest::keyClicks(entry, QStringLiteral("alpine"));
  QCOMPARE(tab->form()->entryHint()->text(),
           QStringLiteral("Normalised: docker.io/library/alpine:latest"));
  QTest::keyClick(entry, Qt::Key_Return);
  const Json* images =
      at(doc->json(), "/enhancedContainerIsolation/dockerSocketMount/imageList/images");
  QVERIFY(images != nullptr && images->size() == 4 && (*images)[3] == "alpine");
  const QModelIndex newRow = tab->form()->model()->indexForPointer(
      "/enhancedContainerIsolation/dockerSocketMount/imageList/images/3");
  QCOMPARE(newRow.sibling(newRow.row(), FormModel::kStatus).data().toString(),
           QStringLiteral("\u2192 docker.io/library/alpine:latest"));

  // Commands get "did you mean" while typing.
  tab->form()->selectPointer("/enhancedContainerIsolation/dockerSocketMount/commandList/commands");
  entry->setFocus();
  QTest::keyClicks(entry, QStringLiteral("pushh"));
  QVERIFY2(tab->form()->entryHint()->text().contains("did you mean \"push\""),
           qPrintable(tab->form()->entryHint()->text()));
  entry->clear();

  // Save: key order and the unknown key kept, UTF-8 without BOM, and eci-admin agrees it is valid.
  QVERIFY(w.saveCurrent(settingsPath));
  QFile f(settingsPath);
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QByteArray saved = f.readAll();
  QVERIFY(!saved.startsWith("\xEF\xBB\xBF"));
  QVERIFY(saved.startsWith(
      "{\n  \"x-company-note\": \"kept as is\",\n  \"configurationFileVersion\": 2,"));
  QVERIFY(saved.indexOf("\"locked\"") < saved.indexOf("\"value\""));  // ECI's member order kept
  QVERIFY(!doc->modified());

  // An organisation in a new registry.json.
  w.tabs()->setCurrentWidget(w.registryTab());
  w.registryTab()->form()->selectPointer("/allowedOrgs");
  QLineEdit* orgEntry = w.registryTab()->form()->newEntryField();
  orgEntry->setFocus();
  QTest::keyClicks(orgEntry, QStringLiteral("myorg"));
  QTest::keyClick(orgEntry, Qt::Key_Return);
  QVERIFY(w.registryTab()->document()->report().valid());
  QVERIFY(w.saveCurrent(registryPath));

  const Run v = runEciAdmin({QStringLiteral("validate"), settingsPath, registryPath});
  QVERIFY2(v.exitCode == 0, qPrintable(v.out + v.err));
  QVERIFY(v.out.contains(QStringLiteral("admin-settings.json: valid")));
  QVERIFY(v.out.contains(QStringLiteral("registry.json: valid")));
  const Run p = runEciAdmin({QStringLiteral("policy"), QStringLiteral("--settings"), settingsPath,
                             QStringLiteral("--registry"), registryPath});
  QVERIFY(p.out.contains(QStringLiteral("  docker.io/library/alpine:latest")));
  QVERIFY(p.out.contains(QStringLiteral("Allowed organisations:\n  myorg")));
}

void GuiTest::undoRedoAcrossPanes() {
  MainWindow w;
  w.show();
  QVERIFY(w.openFile(kExample, false));
  EditorTab* tab = w.settingsTab();
  Document* doc = tab->document();
  FormModel* model = tab->form()->model();
  const QString original = doc->qtext();
  QAction* undo = w.findChild<QAction*>(QStringLiteral("undoAction"));
  QAction* redo = w.findChild<QAction*>(QStringLiteral("redoAction"));
  QVERIFY(undo && redo);

  // 1. Form edit -> JSON text.
  const QModelIndex block = model->indexForPointer("/blockDockerLoad");
  QVERIFY(model->setData(block.sibling(block.row(), FormModel::kValue), "true"));
  QVERIFY(tab->json()->editor()->toPlainText().contains(
      "\"blockDockerLoad\": {\n    \"value\": true\n  }"));
  // 2. JSON text edit -> form.
  typeOver(tab->json()->editor(), QStringLiteral("\"deny\""), QStringLiteral("\"allow\""));
  const QModelIndex type =
      model->indexForPointer("/enhancedContainerIsolation/dockerSocketMount/commandList/type");
  QTRY_COMPARE(type.sibling(type.row(), FormModel::kValue).data().toString(),
               QStringLiteral("allow"));
  QCOMPARE(doc->undoStack()->count(), 2);

  // Undo the text edit (form follows), then the form edit (text follows).
  undo->trigger();
  QCOMPARE(type.sibling(type.row(), FormModel::kValue).data().toString(), QStringLiteral("deny"));
  QVERIFY(tab->json()->editor()->toPlainText().contains("\"blockDockerLoad\""));
  undo->trigger();
  QCOMPARE(tab->json()->editor()->toPlainText(), original);
  QCOMPARE(block.sibling(block.row(), FormModel::kValue).data().toString(), FormModel::notSet());
  QVERIFY(!doc->modified());
  // Redo both.
  redo->trigger();
  redo->trigger();
  QCOMPARE(type.sibling(type.row(), FormModel::kValue).data().toString(), QStringLiteral("allow"));
  QCOMPARE(block.sibling(block.row(), FormModel::kValue).data().toString(), QStringLiteral("true"));

  // Ctrl+Z in the JSON pane right after typing (before the pause) undoes that typing.
  const QString before = tab->json()->editor()->toPlainText();
  typeOver(tab->json()->editor(), QStringLiteral("\"build\""), QStringLiteral("\"pull\""));
  QVERIFY(tab->json()->pending());
  QTest::keyClick(tab->json()->editor(), Qt::Key_Z, Qt::ControlModifier);
  QCOMPARE(tab->json()->editor()->toPlainText(), before);
  QTest::keyClick(tab->json()->editor(), Qt::Key_Z, Qt::ControlModifier | Qt::ShiftModifier);
  QVERIFY(tab->json()->editor()->toPlainText().contains("\"pull\""));
}

void GuiTest::externalChangeReloadAndMerge() {
  const QString path = tmp_.filePath(QStringLiteral("watched.json"));
  writeText(path, readText(kExample).toUtf8());
  MainWindow w;
  w.show();
  QVERIFY(w.openFile(path, false));
  EditorTab* tab = w.settingsTab();
  Document* doc = tab->document();
  QWidget* bar = tab->externalChangeBar();

  // Our own save raises nothing.
  QVERIFY(doc->setValue("/blockDockerLoad", Json{{"value", true}}));
  QVERIFY(w.saveCurrent());
  QTest::qWait(300);
  QVERIFY(!bar->isVisible());

  // Another program replaces the file by rename (as MDM agents do): the bar, then Reload.
  QByteArray theirs = readText(path).toUtf8();
  theirs.replace("\"allowDerivedImages\": true", "\"allowDerivedImages\": false");
  replaceByRename(path, theirs);
  QTRY_VERIFY_WITH_TIMEOUT(bar->isVisible(), 5000);
  bar->findChild<QPushButton*>(QStringLiteral("reloadButton"))->click();
  QCOMPARE(doc->text(), theirs.toStdString());
  QVERIFY(!bar->isVisible());
  QVERIFY(!doc->modified());
  doc->undoStack()->undo();  // reload is undoable
  QCOMPARE(
      at(doc->json(), "/enhancedContainerIsolation/dockerSocketMount/imageList/allowDerivedImages")
          ->get<bool>(),
      true);
  doc->undoStack()->redo();

  // Unsaved local change + a change on disk to another setting: Merge keeps both.
  QVERIFY(doc->setValue("/extensionsEnabled", Json{{"value", false}, {"locked", true}}));
  QByteArray theirs2 = theirs;
  theirs2.replace("\"type\": \"deny\"", "\"type\": \"allow\"");
  replaceByRename(path, theirs2);  // the watch on the file was re-added after the rename
  QTRY_VERIFY_WITH_TIMEOUT(bar->isVisible(), 5000);
  bar->findChild<QPushButton*>(QStringLiteral("mergeButton"))->click();
  QVERIFY(!bar->isVisible());
  QCOMPARE(at(doc->json(), "/enhancedContainerIsolation/dockerSocketMount/commandList/type")
               ->get<std::string>(),
           std::string("allow"));
  QCOMPARE(at(doc->json(), "/extensionsEnabled/locked")->get<bool>(), true);
  QVERIFY(doc->modified());
}

void GuiTest::invalidSaveNeedsConfirmation() {
  const QString path = tmp_.filePath(QStringLiteral("invalid.json"));
  writeText(path, readText(kExample).toUtf8());
  MainWindow w;
  w.show();
  QVERIFY(w.openFile(path, false));
  Document* doc = w.settingsTab()->document();
  QVERIFY(doc->setValue("/configurationFileVersion", Json(3)));
  QVERIFY(!doc->report().valid());

  answerNextMessageBox(QStringLiteral("confirmInvalidSave"), QStringLiteral("confirmNo"));
  QVERIFY(!w.saveCurrent());
  QCOMPARE(readText(path), readText(kExample));  // untouched

  answerNextMessageBox(QStringLiteral("confirmInvalidSave"), QStringLiteral("confirmYes"));
  QVERIFY(w.saveCurrent());
  QVERIFY(readText(path).contains("\"configurationFileVersion\": 3"));
  QCOMPARE(runEciAdmin({QStringLiteral("validate"), path}).exitCode, 1);
}

void GuiTest::policyPreviewEqualsCli() {
  const QString s = tmp_.filePath(QStringLiteral("policy-admin-settings.json"));
  const QString r = tmp_.filePath(QStringLiteral("policy-registry.json"));
  writeText(s,
            readText(QStringLiteral(ECI_GUI_EXAMPLES_DIR "/admin-settings.restricted-mounts.json"))
                .toUtf8());
  writeText(r, "{\"allowedOrgs\": [\"myorg\", \"other\"]}\n");
  MainWindow w;
  QVERIFY(w.openFile(s, false));
  QVERIFY(w.openFile(r, false));
  const Run text = runEciAdmin({"policy", "--settings", s, "--registry", r});
  const Run json = runEciAdmin({"policy", "--settings", s, "--registry", r, "--format", "json"});
  QCOMPARE(text.exitCode, 0);
  QCOMPARE(w.policyPane()->policyText(), text.out);
  QCOMPARE(w.policyPane()->policyJson(), json.out);

  // An invalid settings file: no policy, as the CLI refuses.
  QVERIFY(w.settingsTab()->document()->setValue("/enhancedContainerIsolation/value", Json("yes")));
  QVERIFY(w.policyPane()->policyText().startsWith("No policy: "));
}

void GuiTest::diffByPointer() {
  const QString other = tmp_.filePath(QStringLiteral("other.json"));
  QByteArray o = readText(kExample).toUtf8();
  o.replace("\"build\"", "\"pull\"");
  o.replace("\"docker:cli\"\n", "\"docker:cli\",\n          \"busybox\"\n");
  writeText(other, o);
  MainWindow w;
  QVERIFY(w.openFile(kExample, false));
  QVERIFY(w.compareWithFile(other));
  QCOMPARE(
      w.diffPane()->rowsAsText(),
      QStringList(
          {"removed /enhancedContainerIsolation/dockerSocketMount/imageList/images/3: \"busybox\"",
           "changed /enhancedContainerIsolation/dockerSocketMount/commandList/commands/1: \"pull\" "
           "-> \"build\""}));
  // The diff follows edits.
  QVERIFY(w.settingsTab()->document()->setValue(
      "/enhancedContainerIsolation/dockerSocketMount/commandList/commands/1", Json("pull")));
  QCOMPARE(w.diffPane()->differenceCount(), 1);
  // The deployed copy: this platform's documented location (absent on a build machine).
  w.compareWithDeployed();
  QCOMPARE(QString::fromStdString(deployedPath(eci::settings::FileKind::kAdminSettings).string()),
           QStringLiteral("/usr/share/docker-desktop/admin-settings.json"));
  // merge3 / diffJson on their own.
  const Json base = Json::parse(R"({"a":1,"b":[1,2],"c":{"d":true}})");
  const Json mine = Json::parse(R"({"a":2,"b":[1,2],"c":{"d":true}})");
  const Json theirs = Json::parse(R"({"a":3,"b":[1],"c":{"d":false},"e":"x"})");
  const auto m = merge3(base, mine, theirs);
  QCOMPARE(m.merged.dump(), std::string(R"({"a":2,"b":[1],"c":{"d":false},"e":"x"})"));
  QCOMPARE(m.conflicts, std::vector<std::string>{"/a"});
}

void GuiTest::importOrgsFromProfile() {
  const QString profile = tmp_.filePath(QStringLiteral("docker.mobileconfig"));
  writeText(profile, R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>PayloadContent</key><array><dict>
    <key>PayloadType</key><string>com.docker.config</string>
    <key>PayloadVersion</key><integer>1</integer>
    <key>PayloadIdentifier</key><string>com.example.docker.config</string>
    <key>PayloadUUID</key><string>5B3E1B62-2D7B-4B7B-9A53-1F1D2E4C3B2A</string>
    <key>allowedOrgs</key><string>firstorg;secondorg</string>
  </dict></array>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadVersion</key><integer>1</integer>
  <key>PayloadIdentifier</key><string>com.example.docker</string>
  <key>PayloadUUID</key><string>0C9E3F4A-8E2B-4D3C-9F1A-2B3C4D5E6F70</string>
</dict></plist>
)");
  const QString plist = tmp_.filePath(QStringLiteral("desktop.plist"));
  writeText(plist, R"(<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>allowedOrgs</key><array><string>thirdorg</string></array></dict></plist>
)");
  MainWindow w;
  QVERIFY2(w.importOrgs(profile), qPrintable(w.lastError()));
  QVERIFY2(w.importOrgs(plist), qPrintable(w.lastError()));
  QCOMPARE(at(w.registryTab()->document()->json(), "/allowedOrgs")->dump(),
           std::string(R"(["firstorg","secondorg","thirdorg"])"));
  QVERIFY(w.registryTab()->document()->report().valid());
  writeText(tmp_.filePath("empty.plist"), "<plist version=\"1.0\"><dict/></plist>");
  QVERIFY(!w.importOrgs(tmp_.filePath("empty.plist")));
  QVERIFY(w.lastError().contains("sets no allowedOrgs"));
}

void GuiTest::keyboardOnlyAndAccessibleNames() {
  MainWindow w;
  w.show();
  QVERIFY(QTest::qWaitForWindowExposed(&w));
  QVERIFY(w.openFile(kExample, false));
  // Every widget a keyboard can reach has a name for screen readers.
  QStringList unnamed;
  for (QWidget* c : w.findChildren<QWidget*>()) {
    if (!c->isVisible() || c->focusPolicy() == Qt::NoFocus) continue;
    // Qt's own parts (tab bar, scroll bars, dock title buttons) are named by Qt itself.
    if (c->inherits("QTabBar") || c->inherits("QScrollBar") || c->inherits("QToolButton") ||
        c->inherits("QMenuBar")) {
      continue;
    }
    const QString what = QString::fromLatin1(c->metaObject()->className()) + " " + c->objectName();
    if (auto* b = qobject_cast<QAbstractButton*>(c)) {
      if (b->text().isEmpty() && b->accessibleName().isEmpty()) unnamed << what;
      continue;
    }
    if (c->accessibleName().isEmpty()) unnamed << what;
  }
  QVERIFY2(unnamed.isEmpty(), qPrintable(unnamed.join(", ")));

  // Ctrl+F -> search, type, the form narrows; Alt+1 -> the tree; edit a value with keys only.
  EditorTab* tab = w.settingsTab();
  w.activateWindow();
  QTest::keyClick(&w, Qt::Key_F, Qt::ControlModifier);
  QTRY_VERIFY(tab->form()->searchField()->hasFocus());
  QTest::keyClicks(tab->form()->searchField(), QStringLiteral("docker load"));
  QCOMPARE(tab->form()->filter()->rowCount(), 1);  // one category left: Engine and VM
  QTest::keyClick(&w, Qt::Key_1, Qt::AltModifier);
  QTreeView* tree = tab->form()->tree();
  QTRY_VERIFY(tree->hasFocus());
  QTest::keyClick(tree, Qt::Key_Down);   // category -> blockDockerLoad
  QTest::keyClick(tree, Qt::Key_Right);  // Setting column -> Value column
  QCOMPARE(tab->form()->currentPointer(), QStringLiteral("/blockDockerLoad"));
  QCOMPARE(tree->currentIndex().column(), static_cast<int>(FormModel::kValue));
  QTest::keyClick(tree, Qt::Key_F2);
  auto* combo = tree->findChild<QComboBox*>(QStringLiteral("valueEditor"));
  QVERIFY(combo);
  combo->setCurrentIndex(combo->findText(QStringLiteral("true")));
  QTest::keyClick(combo, Qt::Key_Return);
  QTRY_VERIFY(at(tab->document()->json(), "/blockDockerLoad/value") != nullptr);
  QCOMPARE(at(tab->document()->json(), "/blockDockerLoad/value")->get<bool>(), true);
  // Lock it with the keyboard: Right to the Locked column, Space toggles.
  QTest::keyClick(tree, Qt::Key_Right);
  QTest::keyClick(tree, Qt::Key_Space);
  QTRY_VERIFY(at(tab->document()->json(), "/blockDockerLoad/locked") != nullptr);
  QCOMPARE(at(tab->document()->json(), "/blockDockerLoad/locked")->get<bool>(), true);
  // The ECI lock greys its sub-settings' lock: shown, not editable there.
  const QModelIndex images = tab->form()->model()->indexForPointer(
      "/enhancedContainerIsolation/dockerSocketMount/imageList/images");
  const QModelIndex lockCell = images.sibling(images.row(), FormModel::kLocked);
  QCOMPARE(lockCell.data(Qt::CheckStateRole).toInt(), static_cast<int>(Qt::Checked));
  QVERIFY(!(lockCell.flags() & Qt::ItemIsEnabled));
  // F8 walks the findings (the example has none: nothing happens, nothing breaks).
  QVERIFY(!tab->nextFinding());
}

void GuiTest::exportsEqualCli() {
#ifndef ECI_GUI_HAVE_MDM
  QSKIP("the MDM export library (settings-schema mdm_export.h) is not in this tree");
#else
  const Run help = runEciAdmin({QStringLiteral("export"), QStringLiteral("--help")});
  if (help.exitCode != 0 || !help.out.contains("--target"))
    QSKIP("eci-admin export is not built yet");
  const QString s = tmp_.filePath(QStringLiteral("exp/admin-settings.json"));
  const QString r = tmp_.filePath(QStringLiteral("exp/registry.json"));
  QDir().mkpath(tmp_.filePath(QStringLiteral("exp")));
  writeText(s, readText(kExample).toUtf8());
  writeText(r, "{\n  \"allowedOrgs\": [\"myorg\", \"second\"]\n}\n");
  MainWindow w;
  QVERIFY(w.openFile(s, false));
  QVERIFY(w.openFile(r, false));
  for (auto t : {eci::settings::mdm::Target::kJamf, eci::settings::mdm::Target::kIntune,
                 eci::settings::mdm::Target::kGpo, eci::settings::mdm::Target::kLinux}) {
    const QString name = QString::fromLatin1(eci::settings::mdm::targetName(t));
    const QString guiDir = tmp_.filePath("exp/gui-" + name);
    const QString cliDir = tmp_.filePath("exp/cli-" + name);
    QVERIFY2(w.exportTo(t, guiDir), qPrintable(w.lastError()));
    const Run c =
        runEciAdmin({"export", "--target", name, "--settings", s, "--registry", r, "-o", cliDir});
    QVERIFY2(c.exitCode == 0, qPrintable(c.out + c.err));
    QStringList guiFiles, cliFiles;
    for (const QString& base : {guiDir, cliDir}) {
      QStringList& list = base == guiDir ? guiFiles : cliFiles;
      QDirIterator it(base, QDir::Files, QDirIterator::Subdirectories);
      while (it.hasNext()) list << QDir(base).relativeFilePath(it.next());
      list.sort();
    }
    QVERIFY(!guiFiles.isEmpty());
    QCOMPARE(guiFiles, cliFiles);
    for (const QString& f : guiFiles) {
      QFile a(guiDir + "/" + f), b(cliDir + "/" + f);
      QVERIFY(a.open(QIODevice::ReadOnly) && b.open(QIODevice::ReadOnly));
      QVERIFY2(a.readAll() == b.readAll(), qPrintable(name + ": " + f));
      QCOMPARE(a.permissions(), b.permissions());
    }
  }
#endif
}

// Screenshots of the main states, written into the build tree, each checked to show the window's
// content rather than a blank frame.
void GuiTest::screenshotsShowContent() {
  const QString suffix = qEnvironmentVariable("ECI_GUI_SHOT_SUFFIX");
  const QString dir = artefactsDir();
  const QString path = tmp_.filePath(QStringLiteral("shots-admin-settings.json"));
  writeText(path, readText(kExample).toUtf8());
  MainWindow w;
  w.resize(1400, 860);
  w.show();
  QVERIFY(QTest::qWaitForWindowExposed(&w));
  QVERIFY(w.openFile(path, false));
  EditorTab* tab = w.settingsTab();

  auto shoot = [&](const QString& name) {
    QApplication::processEvents();
    const QPixmap px = w.grab();
    const QString file = dir + "/" + name + suffix + ".png";
    QVERIFY(px.save(file));
    const QImage img(file);
    QVERIFY(!img.isNull());
    // At a scale factor of 2 the image has twice the pixels of the window.
    QCOMPARE(img.width(), qRound(w.width() * px.devicePixelRatio()));
    const ImageStats all = analyse(img);
    QVERIFY2(all.nonBackgroundFraction > 0.10 && all.distinctColours > 40 && all.lumaStdDev > 15,
             qPrintable(QStringLiteral("%1: %2 non-background, %3 colours, stddev %4")
                            .arg(name)
                            .arg(all.nonBackgroundFraction)
                            .arg(all.distinctColours)
                            .arg(all.lumaStdDev)));
    // The form's own area has text in it (not an empty tree).
    const QImage formImg = tab->form()->tree()->viewport()->grab().toImage();
    QVERIFY(analyse(formImg).nonBackgroundFraction > 0.03);
  };
  tab->form()->selectPointer("/enhancedContainerIsolation/dockerSocketMount/imageList/images/2");
  shoot(QStringLiteral("01-opened"));

  typeOver(tab->json()->editor(), QStringLiteral("\"deny\""), QStringLiteral("\"denied\""));
  QTRY_VERIFY(!tab->document()->report().valid());
  tab->nextFinding();
  shoot(QStringLiteral("02-finding-selected"));
  tab->document()->undoStack()->undo();

  w.findChild<QDockWidget*>(QStringLiteral("policyDock"))->raise();
  shoot(QStringLiteral("03-policy-preview"));

  QByteArray o = readText(kExample).toUtf8();
  o.replace("\"push\", \"build\"", "\"push\"");
  writeText(tmp_.filePath("shots-other.json"), o);
  QVERIFY(w.compareWithFile(tmp_.filePath("shots-other.json")));
  shoot(QStringLiteral("04-diff"));

  w.tabs()->setCurrentWidget(w.registryTab());
  shoot(QStringLiteral("05-registry"));

  // A blank frame fails the same check.
  QImage blank(400, 300, QImage::Format_RGB32);
  blank.fill(QColor(0xef, 0xef, 0xef));
  QVERIFY(analyse(blank).nonBackgroundFraction < 0.01);
}

QTEST_MAIN(GuiTest)
#include "gui_test.moc"
